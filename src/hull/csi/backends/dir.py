"""``dir`` volumes: one directory each, bind-mounted to stage and publish.

Capacity is bookkeeping only: the directory shares the root filesystem.
Real enforcement would take xfs project quota (or ext4 project quota,
which needs the ``project`` feature at mkfs time); neither is available
on this driver's root, so a dir volume can outgrow its size. Use the
``loop`` backend when the limit matters.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from hull.csi import mounts, validate
from hull.csi.backends.base import Backend
from hull.csi.state import Snapshot, Staging, Volume
from hull.errors import NotFound
from hull.sys import filecopy


class DirBackend(Backend):
    name = "dir"
    supports_block = False

    def path(self, volume_id: str) -> str:
        return os.path.join(self.volumes_dir, volume_id)

    def snapshot_path(self, snapshot_id: str) -> str:
        return os.path.join(self.snapshots_dir, snapshot_id)

    def _publish_dir(self, tmp: str, final: str) -> None:
        os.chmod(tmp, 0o777)  # like hostpath: workloads run as any uid
        os.rename(tmp, final)

    def create(self, volume: Volume) -> None:
        # mkdir is atomic: an empty volume needs no temporary name
        path = self.path(volume.id)
        os.mkdir(path)
        os.chmod(path, 0o777)

    def create_from_snapshot(self, volume: Volume, snapshot: Snapshot) -> None:
        self._clone(self.snapshot_path(snapshot.id), volume.id)

    def create_from_volume(self, volume: Volume, source: Volume,
                           source_mount: str | None) -> None:
        self._clone(self.path(source.id), volume.id)

    def _clone(self, source: str, volume_id: str) -> None:
        if not os.path.isdir(source):
            raise NotFound(f"cannot copy {source}: it is gone")
        tmp = self._tmp(self.volumes_dir, volume_id)
        self._remove_path(tmp)
        try:
            filecopy.clone_tree(source, tmp)
            self._publish_dir(tmp, self.path(volume_id))
        except BaseException:
            self._remove_path(tmp)
            raise

    def delete(self, volume_id: str) -> None:
        self._remove_path(self.path(volume_id))

    def snapshot(self, volume: Volume, snapshot_id: str, source_mount: str | None) -> int:
        tmp = self._tmp(self.snapshots_dir, snapshot_id)
        self._remove_path(tmp)
        try:
            filecopy.clone_tree(self.path(volume.id), tmp)
            os.rename(tmp, self.snapshot_path(snapshot_id))
        except BaseException:
            self._remove_path(tmp)
            raise
        return volume.capacity

    def delete_snapshot(self, snapshot_id: str) -> None:
        self._remove_path(self.snapshot_path(snapshot_id))

    def expand(self, volume: Volume, capacity: int) -> bool:
        return False  # nothing to grow: the size is a record

    def present(self, volume: Volume) -> bool:
        return os.path.isdir(self.path(volume.id))

    def stage(self, volume: Volume, path: str, cap: validate.Capability) -> tuple[str, str]:
        if not self.present(volume):
            raise NotFound(f"cannot stage volume {volume.id}: its directory is gone")
        if not mounts.is_mount_point(path):
            mounts.bind(self.path(volume.id), path, words=cap.mount_flags)
        return "", ""

    def unstage(self, volume: Volume, staging: Staging, last: bool) -> None:
        mounts.unmount(staging.path)

    def node_expand(self, volume: Volume, staging: Staging | None, volume_path: str) -> int:
        return volume.capacity

    def device(self, volume: Volume) -> str | None:
        return None

    @contextlib.contextmanager
    def files(self, volume: Volume, staged_mount: str | None,
              format_blank: bool = False) -> Iterator[str]:
        yield self.path(volume.id)

    def _mine(self, entry: str) -> bool:
        return not entry.endswith(".img")
