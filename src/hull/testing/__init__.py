"""Test kits for hull and for projects that build on it.

- ``hull.testing.busybox``: container root filesystems from Debian's busybox-static.
- ``hull.testing.leaks``: snapshots of kernel objects, to prove nothing leaked.
"""
