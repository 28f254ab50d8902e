"""hull's CNI plugins: executables run per pod by any CNI runtime.

Each module has ``main()``; ``scripts/setup`` writes launchers that run it
with ``python -IS``. Stdlib only, and a small import graph: every pod start
pays for it (measure with ``python -X importtime``).
"""
