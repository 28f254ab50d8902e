"""Volume backends behind one interface.

- ``dir``: a directory per volume under ``<root>/volumes``. Capacity is
  recorded, not enforced: enforcing it would need xfs project quota, and
  the driver root usually sits on ext4 (no project quota here).
- ``loop``: a sparse image file per volume, attached as a loop device and
  formatted ext4 or xfs on first stage: the filesystem enforces capacity,
  the device serves raw block volumes, and online expansion grows the file,
  tells the loop device (LOOP_SET_CAPACITY) and grows the filesystem.

Snapshots live under ``<root>/snapshots`` as full, independent copies
(reflinked where the filesystem can share extents), so a volume can be
deleted while its snapshots stay usable, as csi-driver-host-path does.
"""

from __future__ import annotations

from hull.csi.backends.base import Backend
from hull.errors import InvalidArgument

NAMES = ("dir", "loop")


def make(name: str, root: str) -> Backend:
    if name == "dir":
        from hull.csi.backends.dir import DirBackend
        return DirBackend(root)
    if name == "loop":
        from hull.csi.backends.loop import LoopBackend
        return LoopBackend(root)
    raise InvalidArgument(f"cannot use backend {name!r}: unknown (known: {', '.join(NAMES)})")


__all__ = ["Backend", "NAMES", "make"]
