"""`hull play`: Kubernetes Pod YAML on one machine, through hull's CRI, CNI and CSI.

``manifest`` loads and checks files; ``translate`` turns pods into CRI
requests; ``apply`` plays and downs files; ``agent`` and ``worker`` are the
supervisor (restarts, probes); ``state`` is their SQLite database.
"""
