"""Thin wrappers over libc calls that Python 3.11's ``os`` lacks.

Each wrapper raises ``OSError(errno, strerror, path)`` on failure. Linux
only; x86_64 and aarch64 syscall numbers where libc has no wrapper. The
C types come from ``hull.sys.ffi`` (``_ctypes`` alone, not ``ctypes``).
"""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull.sys import pathname
from hull.sys.ffi import Library, c_char_p, c_int, c_long, c_size_t, c_ulong, get_errno

_libc = Library(None)

# clone(2) / unshare(2) / setns(2) flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

# umount2(2) flags
MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "setns": 308, "unshare": 272},
    "aarch64": {"pivot_root": 41, "setns": 268, "unshare": 97},
}
_NR = _SYSCALLS.get(posix.uname().machine, _SYSCALLS["x86_64"])


def _check(result: int, path: str | bytes | None = None) -> int:
    if result == -1:
        err = get_errno()
        raise OSError(err, posix.strerror(err), path)
    return result


def _b(value: str | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return pathname.fsencode(value)


_libc.mount.argtypes = [c_char_p, c_char_p, c_char_p,
                        c_ulong, c_char_p]
_libc.umount2.argtypes = [c_char_p, c_int]
_libc.unshare.argtypes = [c_int]
_libc.setns.argtypes = [c_int, c_int]
_libc.sethostname.argtypes = [c_char_p, c_size_t]
_libc.setdomainname.argtypes = [c_char_p, c_size_t]
_libc.syscall.restype = c_long


def mount(source: str | bytes | None, target: str | bytes, fstype: str | bytes | None,
          flags: int = 0, data: str | bytes | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), target)


def umount(target: str | bytes, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), target)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags))


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype))


def pivot_root(new_root: str | bytes, put_old: str | bytes) -> None:
    _check(_libc.syscall(_NR["pivot_root"], _b(new_root), _b(put_old)), new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)))


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)))


# prctl(2)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_libc.prctl.argtypes = [c_int, c_ulong, c_ulong,
                        c_ulong, c_ulong]


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5))
