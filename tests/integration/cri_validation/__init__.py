"""critest (kubernetes-sigs/cri-tools pkg/validate) ported to pytest, run against a real hulld.

One test per critest spec, named after it (docstrings quote the spec); parametrized where
critest is. conftest.py starts the daemon and a loopback registry serving stand-ins of
critest's images under their public names (images.py); test_hull_extras.py holds checks
kubelet relies on that critest lacks. Findings for the CRI engineers:
/work/team/conformance-cri.md.
"""
