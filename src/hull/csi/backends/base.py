"""The interface every backend implements, and the layout they share.

Every creating method builds its result under a temporary name and
renames it into place last, so a crash leaves either nothing or a stray
``.tmp-*`` entry that ``sweep`` removes at start-up; every removing
method succeeds when the object is already gone.
"""

from __future__ import annotations

import abc
import contextlib
import os
import shutil
from collections.abc import Iterator

from hull.csi import validate
from hull.csi.state import Snapshot, Staging, Volume

GiB = 1 << 30
MiB = 1 << 20


class Backend(abc.ABC):
    name = ""
    supports_block = False
    default_size = GiB
    align = 1

    def __init__(self, root: str):
        self.root = root
        self.volumes_dir = os.path.join(root, "volumes")
        self.snapshots_dir = os.path.join(root, "snapshots")
        self.scratch_dir = os.path.join(root, "scratch")
        for d in (self.volumes_dir, self.snapshots_dir, self.scratch_dir):
            os.makedirs(d, exist_ok=True)

    # ---- sizes ----

    def min_size(self, fs_type: str) -> int:
        return 1

    def max_size(self) -> int:
        """What a new volume may take: the free space of the driver's root."""
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    # ---- capability rules ----

    def check_capability(self, cap: validate.Capability, rpc: str) -> None:
        from hull.errors import InvalidArgument
        if cap.block and not self.supports_block:
            raise InvalidArgument(f"cannot {rpc}: backend {self.name} has no raw block "
                                  f"volumes (use backend=loop)")

    # ---- controller side ----

    def replenish(self) -> None:
        """Prepare ahead for the next CreateVolume (called once a create's
        answer is on its way, off the call's critical path)."""

    @abc.abstractmethod
    def create(self, volume: Volume) -> None:
        """Make empty storage of ``volume.capacity`` bytes."""

    @abc.abstractmethod
    def create_from_snapshot(self, volume: Volume, snapshot: Snapshot) -> None: ...

    @abc.abstractmethod
    def create_from_volume(self, volume: Volume, source: Volume,
                           source_mount: str | None) -> None: ...

    @abc.abstractmethod
    def delete(self, volume_id: str) -> None: ...

    @abc.abstractmethod
    def snapshot(self, volume: Volume, snapshot_id: str, source_mount: str | None) -> int:
        """Copy the volume into the snapshot store; returns the snapshot's size."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot_id: str) -> None: ...

    @abc.abstractmethod
    def expand(self, volume: Volume, capacity: int) -> bool:
        """Grow the storage; True when the node must grow a filesystem too."""

    @abc.abstractmethod
    def present(self, volume: Volume) -> bool:
        """Is the volume's storage still there (its condition)?"""

    # ---- node side ----

    @abc.abstractmethod
    def stage(self, volume: Volume, path: str, cap: validate.Capability) -> tuple[str, str]:
        """Make the volume usable at ``path``; returns (device, fs_type)."""

    @abc.abstractmethod
    def unstage(self, volume: Volume, staging: Staging, last: bool) -> None: ...

    @abc.abstractmethod
    def node_expand(self, volume: Volume, staging: Staging | None, volume_path: str) -> int: ...

    @abc.abstractmethod
    def device(self, volume: Volume) -> str | None:
        """The block device serving the volume, if one is attached."""

    def read_only_device(self, volume: Volume) -> str:
        raise NotImplementedError(f"backend {self.name} has no block devices")

    def release_device(self, volume: Volume, device: str) -> None:
        """Give back a device from ``read_only_device``."""

    @abc.abstractmethod
    @contextlib.contextmanager
    def files(self, volume: Volume, staged_mount: str | None,
              format_blank: bool = False) -> Iterator[str]:
        """A directory holding the volume's files (for backup and restore);
        ``format_blank`` makes a filesystem on a never-staged volume."""

    # ---- housekeeping ----

    def _tmp(self, directory: str, name: str) -> str:
        return os.path.join(directory, f".tmp-{name}")

    @contextlib.contextmanager
    def _in_tmp(self, directory: str, name: str) -> Iterator[str]:
        """A fresh temporary path for ``name`` that the body fills and renames
        into place; removed if the body fails (a crash leaves it to ``sweep``)."""
        tmp = self._tmp(directory, name)
        self._remove_path(tmp)
        try:
            yield tmp
        except BaseException:
            self._remove_path(tmp)
            raise

    def sweep(self, known_volumes: set[str], known_snapshots: set[str]) -> list[str]:
        """Remove leftovers of crashed calls; returns what was removed."""
        removed = []
        for directory, known in ((self.volumes_dir, known_volumes),
                                 (self.snapshots_dir, known_snapshots)):
            for entry in os.listdir(directory):
                if self._owner(entry) not in known and self._mine(entry):
                    self._remove_path(os.path.join(directory, entry))
                    removed.append(os.path.join(directory, entry))
        return removed

    def _owner(self, entry: str) -> str:
        return entry.removeprefix(".tmp-").removesuffix(".img")

    @abc.abstractmethod
    def _mine(self, entry: str) -> bool:
        """Does this entry of volumes/ or snapshots/ belong to this backend?"""

    @staticmethod
    def _remove_path(path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                os.rmdir(path)   # an empty volume: one call, where rmtree makes a dozen
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
