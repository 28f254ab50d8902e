"""Filesystem syscalls that ``os`` lacks (used by the image store)."""

from __future__ import annotations

import ctypes

from hull.sys.libc import _check, _libc

_libc.syncfs.argtypes = [ctypes.c_int]


def syncfs(fd: int) -> None:
    """Flush the whole filesystem holding ``fd`` (one call instead of an fsync per file)."""
    _check(_libc.syncfs(fd))
