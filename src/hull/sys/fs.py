"""Filesystem syscalls that ``os`` lacks (used by the image store)."""

from __future__ import annotations


from hull.sys import ffi
from hull.sys.libc import _check, _libc

_libc.syncfs.argtypes = [ffi.c_int]


def syncfs(fd: int) -> None:
    """Flush the whole filesystem holding ``fd`` (one call instead of an fsync per file)."""
    _check(_libc.syncfs(fd))


# The new mount API (fsopen/fsconfig/fsmount/move_mount): overlay's "lowerdir+"
# (Linux 6.8+) takes one layer per call, so long layer lists escape the one-page
# limit of mount(2)'s option string.
_NR = {"x86_64": {"move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432},
       "aarch64": {"move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432}}
FSOPEN_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
AT_FDCWD = -100

_libc.syscall.restype = ffi.c_long


def _nr(name: str) -> int:
    import platform

    return _NR.get(platform.machine(), _NR["x86_64"])[name]


def _syscall(name: str, *args) -> int:
    return _check(_libc.syscall(_nr(name), *args))


def mount_overlay_fsconfig(target: str, lowers: list[str], upper: str | None,
                           work: str | None, options: dict[str, str] | None = None,
                           readonly: bool = False) -> None:
    """Mount overlayfs at target, adding lower layers one by one ("lowerdir+")."""
    import os

    fs_fd = _syscall("fsopen", b"overlay", ffi.c_uint(FSOPEN_CLOEXEC))
    try:
        def set_string(key: str, value: str) -> None:
            _syscall("fsconfig", ffi.c_int(fs_fd), ffi.c_uint(FSCONFIG_SET_STRING),
                     key.encode(), os.fsencode(value), ffi.c_int(0))

        for lower in lowers:
            set_string("lowerdir+", lower)
        if upper:
            set_string("upperdir", upper)
            set_string("workdir", work or "")
        for key, value in (options or {}).items():
            set_string(key, value)
        _syscall("fsconfig", ffi.c_int(fs_fd), ffi.c_uint(FSCONFIG_CMD_CREATE),
                 None, None, ffi.c_int(0))
        attrs = MOUNT_ATTR_RDONLY if readonly else 0
        mnt_fd = _syscall("fsmount", ffi.c_int(fs_fd), ffi.c_uint(FSMOUNT_CLOEXEC),
                          ffi.c_uint(attrs))
        try:
            _syscall("move_mount", ffi.c_int(mnt_fd), b"", ffi.c_int(AT_FDCWD),
                     os.fsencode(target), ffi.c_uint(MOVE_MOUNT_F_EMPTY_PATH))
        finally:
            os.close(mnt_fd)
    finally:
        os.close(fs_fd)
