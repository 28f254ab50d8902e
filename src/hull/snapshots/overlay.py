"""Overlay snapshot directories and the mounts built from them.

Layout under ``root`` (short numeric names keep ``lowerdir=`` lists short:
about 120 layers fit in the one page the kernel accepts for mount data)::

    <id>/fs          committed: one layer's diff, read-only lower
                     active: the container's writable upper
    <id>/work        active only: overlayfs workdir
    <id>/tmp         being unpacked; renamed to fs when verified

Which id is which snapshot lives in the image metadata (SQLite); this
module only owns the directories and the mount calls.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hull import errors
from hull.sys import libc, mountinfo

MAX_MOUNT_DATA = 4095


@dataclass
class Snapshot:
    key: str                 # chain ID for committed layers, the caller's key otherwise
    id: int                  # directory name under the snapshot root
    kind: str                # "committed" | "active" | "view" | "pending"
    parent: str | None = None
    lowers: list[str] = field(default_factory=list)   # lower dirs, topmost first
    upper: str | None = None
    work: str | None = None

    def mount_options(self) -> str:
        if self.kind == "view" and len(self.lowers) == 1:
            return ""  # a bind mount, see mount()
        options = [f"lowerdir={':'.join(self.lowers)}"]
        if self.upper:
            options += [f"upperdir={self.upper}", f"workdir={self.work}"]
        options.append("index=off")
        return ",".join(options)


class SnapshotDirs:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, snapshot_id: int) -> Path:
        return self.root / str(snapshot_id)

    def fs(self, snapshot_id: int) -> Path:
        return self.path(snapshot_id) / "fs"

    def unpack_dir(self, snapshot_id: int) -> Path:
        """A fresh, empty tmp dir for unpacking (leftovers of a crash removed)."""
        tmp = self.path(snapshot_id) / "tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True, mode=0o755)
        return tmp

    def publish(self, snapshot_id: int) -> Path:
        """tmp -> fs. Not synced here: see ``sync`` and hull.images.store's recovery."""
        base = self.path(snapshot_id)
        os.rename(base / "tmp", base / "fs")
        return base / "fs"

    def sync(self) -> None:
        """Flush the whole filesystem holding the snapshots (one syncfs, not an fsync per file)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _syncfs(fd)
        finally:
            os.close(fd)

    def create_active(self, snapshot_id: int) -> tuple[Path, Path]:
        base = self.path(snapshot_id)
        for sub in ("fs", "work"):
            (base / sub).mkdir(parents=True, exist_ok=True, mode=0o755)
        return base / "fs", base / "work"

    def remove(self, snapshot_id: int) -> None:
        """Idempotent."""
        shutil.rmtree(self.path(snapshot_id), ignore_errors=True)

    def ids_on_disk(self) -> set[int]:
        return {int(e.name) for e in os.scandir(self.root) if e.name.isdigit()}


def _syncfs(fd: int) -> None:
    from hull.sys.fs import syncfs

    syncfs(fd)


def mount(snapshot: Snapshot, target: str) -> None:
    """Mount the snapshot's overlay (or a read-only bind for a 1-layer view) at target."""
    if snapshot.kind == "view" and len(snapshot.lowers) == 1:
        libc.mount(snapshot.lowers[0], target, None, libc.MS_BIND)
        libc.mount(None, target, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY)
        return
    if not snapshot.lowers:
        # an image with no layers: an empty read-only lower is what overlay needs
        raise errors.FailedPrecondition(f"cannot mount snapshot {snapshot.key}: no layers")
    data = snapshot.mount_options()
    flags = libc.MS_RDONLY if snapshot.kind == "view" else 0
    try:
        if len(data) <= MAX_MOUNT_DATA:
            libc.mount("overlay", target, "overlay", flags, data)
        else:  # too many layers for one page of options: add them one by one
            from hull.sys.fs import mount_overlay_fsconfig

            mount_overlay_fsconfig(target, snapshot.lowers, snapshot.upper, snapshot.work,
                                   {"index": "off"}, readonly=bool(flags))
    except OSError as e:
        raise errors.from_oserror(e, f"cannot mount snapshot {snapshot.key} at {target}") from e


def unmount(target: str) -> None:
    """Idempotent: not mounted or missing is fine."""
    try:
        libc.umount(target, libc.UMOUNT_NOFOLLOW)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT):
            return
        if e.errno == errno.EBUSY:
            with contextlib.suppress(OSError):
                libc.umount(target, libc.MNT_DETACH | libc.UMOUNT_NOFOLLOW)
                return
        raise errors.from_oserror(e, f"cannot unmount {target}") from e


def upper_in_use(upper: str) -> bool:
    """Whether an overlay mount in this mount namespace writes into ``upper``."""
    return any(m.super_option("upperdir") == upper for m in mountinfo.entries())
