"""Layer unpacking (safe, streaming, overlayfs whiteouts) and overlay snapshots."""

from hull.snapshots.overlay import Snapshot, SnapshotDirs, mount, unmount
from hull.snapshots.unpack import HostileLayer, apply_tar

__all__ = ["HostileLayer", "Snapshot", "SnapshotDirs", "apply_tar", "mount", "unmount"]
