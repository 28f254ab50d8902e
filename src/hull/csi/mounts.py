"""Mounts the node service makes: filesystem, bind and read-only binds.

Reads /proc/self/mountinfo to answer "is this path a mount point" so that
every step can be repeated (idempotent stage/publish) and found again
after a driver restart.
"""

from __future__ import annotations

import errno
import os
import time

from hull.sys import libc, mountinfo

# mount(8) option words that are mount(2) flags; anything else is fs data
FLAG_WORDS = {
    "ro": libc.MS_RDONLY, "nosuid": libc.MS_NOSUID, "nodev": libc.MS_NODEV,
    "noexec": libc.MS_NOEXEC, "sync": libc.MS_SYNCHRONOUS, "dirsync": libc.MS_DIRSYNC,
    "noatime": libc.MS_NOATIME, "nodiratime": libc.MS_NODIRATIME,
    "relatime": libc.MS_RELATIME, "strictatime": libc.MS_STRICTATIME,
    "lazytime": libc.MS_LAZYTIME,
}
NEUTRAL_WORDS = {"rw", "defaults", "suid", "dev", "exec", "async", "atime", "diratime", "bind"}


def mount_points() -> dict[str, mountinfo.Mount]:
    """Mount point -> its mount (the last one listed: the one on top)."""
    return {m.mountpoint: m for m in mountinfo.entries()}


def is_mount_point(path: str) -> bool:
    return os.path.normpath(path) in mount_points()


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix``, deepest first (the unmount order)."""
    prefix = os.path.normpath(prefix)
    hits = [p for p in mount_points() if p == prefix or p.startswith(prefix + "/")]
    return sorted(hits, key=len, reverse=True)


def split_flags(words) -> tuple[int, str]:
    """mount_flags words -> (MS_* flags, comma-joined data options)."""
    flags, data = 0, []
    for word in words:
        for part in word.split(","):
            part = part.strip()
            if not part or part in NEUTRAL_WORDS:
                continue
            if part in FLAG_WORDS:
                flags |= FLAG_WORDS[part]
            else:
                data.append(part)
    return flags, ",".join(data)


def mount_fs(device: str, target: str, fs_type: str, words=(), read_only: bool = False) -> None:
    flags, data = split_flags(words)
    if read_only:
        flags |= libc.MS_RDONLY
    libc.mount(device, target, fs_type, flags, data or None)


def bind(source: str, target: str, read_only: bool = False, words=()) -> None:
    """Bind ``source`` onto ``target``; a read-only bind needs a remount."""
    libc.mount(source, target, None, libc.MS_BIND)
    flags, _ = split_flags(words)
    if read_only:
        flags |= libc.MS_RDONLY
    if flags:
        try:
            libc.mount(None, target, None, libc.MS_BIND | libc.MS_REMOUNT | flags)
        except OSError:
            unmount(target)
            raise


def unmount(target: str) -> None:
    """Unmount; not mounted is fine, busy is retried then detached lazily."""
    for attempt in range(20):
        try:
            libc.umount(target)
            return
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return
            if e.errno != errno.EBUSY:
                raise
            time.sleep(0.05)
    libc.umount(target, libc.MNT_DETACH)
