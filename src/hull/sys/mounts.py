"""Mount targets resolved inside a root without escaping it.

A container image may hold symlinks such as ``/etc -> /`` or
``/run -> ../../..``; following them on the host would let a config mount
over host paths. Every target is opened with openat2(RESOLVE_IN_ROOT)
relative to the rootfs, then mounted through /proc/self/fd/N, so the path
the kernel mounts on is exactly the file we opened.
"""

from __future__ import annotations

import errno
import posix   # not os: hull.sys.pathname says why

from hull.sys import ffi, pathname
from hull.sys.libc import _check, _libc, mount

_NR_OPENAT2 = 437        # same on x86_64 and aarch64
_NR_MOUNT_SETATTR = 442
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000
O_PATH = 0o10000000


class _OpenHow(ffi.Structure):
    _fields_ = [("flags", ffi.c_uint64), ("mode", ffi.c_uint64),
                ("resolve", ffi.c_uint64)]


class _MountAttr(ffi.Structure):
    _fields_ = [("attr_set", ffi.c_uint64), ("attr_clr", ffi.c_uint64),
                ("propagation", ffi.c_uint64), ("userns_fd", ffi.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    how = _OpenHow(flags | posix.O_CLOEXEC, mode, resolve)
    return _check(_libc.syscall(_NR_OPENAT2, dirfd, pathname.fsencode(path), ffi.byref(how),
                                ffi.sizeof(how)), path)


def open_in_root(root_fd: int, path: str, flags: int = O_PATH) -> int:
    """Open ``path`` as if ``root_fd`` were /: symlinks cannot leave it."""
    return openat2(root_fd, path.lstrip("/") or ".", flags,
                   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)


def ensure_in_root(root_fd: int, path: str, directory: bool = True, mode: int = 0o755) -> int:
    """Open ``path`` inside the root, creating what is missing; an O_PATH fd.

    The last component becomes a directory, or an empty file when
    ``directory`` is false (a bind mount of a file needs a file to cover).
    """
    try:
        return open_in_root(root_fd, path)
    except FileNotFoundError:
        pass
    resolved = resolve_in_root(root_fd, path)
    if resolved != path:  # a symlink on the way: create what it points at, in the root
        return ensure_in_root(root_fd, resolved, directory, mode)
    parent, _, name = path.rstrip("/").rpartition("/")
    parent_fd = ensure_in_root(root_fd, parent or "/", True, 0o755)
    try:
        if directory:
            try:
                posix.mkdir(name, mode, dir_fd=parent_fd)
            except FileExistsError:
                pass
        else:
            fd = posix.open(name, posix.O_CREAT | posix.O_WRONLY | posix.O_CLOEXEC | posix.O_NOFOLLOW,
                         0o644, dir_fd=parent_fd)
            posix.close(fd)
        return openat2(parent_fd, name, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    finally:
        posix.close(parent_fd)


def resolve_in_root(root_fd: int, path: str, max_links: int = 40) -> str:
    """``path`` with every symlink expanded as if ``root_fd`` were /, lexically;
    ``..`` stops at the root. Missing components are kept as they are."""
    pending = [c for c in path.split("/") if c]
    done: list[str] = []
    links = 0
    while pending:
        component = pending.pop(0)
        if component == ".":
            continue
        if component == "..":
            if done:
                done.pop()
            continue
        candidate = "/".join(done + [component])
        try:
            is_link = posix.stat(candidate, dir_fd=root_fd, follow_symlinks=False).st_mode \
                & 0o170000 == 0o120000
        except FileNotFoundError:
            is_link = False
        if not is_link:
            done.append(component)
            continue
        links += 1
        if links > max_links:
            raise OSError(errno.ELOOP, posix.strerror(errno.ELOOP), path)
        target = posix.readlink(candidate, dir_fd=root_fd)
        if target.startswith("/"):
            done = []
        pending = [c for c in target.split("/") if c] + pending
    return "/" + "/".join(done)


def fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def mount_on_fd(source: str | None, target_fd: int, fstype: str | None, flags: int = 0,
                data: str | None = None) -> None:
    mount(source, fd_path(target_fd), fstype, flags, data)


def mount_setattr(fd: int, attr_set: int, attr_clear: int, recursive: bool = True) -> None:
    """Change mount attributes (e.g. read-only) of the mount at ``fd`` and below."""
    attr = _MountAttr(attr_set, attr_clear, 0, 0)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    _check(_libc.syscall(_NR_MOUNT_SETATTR, fd, b"", flags, ffi.byref(attr),
                         ffi.sizeof(attr)))


def is_mountpoint_error(err: OSError) -> bool:
    return err.errno in (errno.EINVAL, errno.EBUSY)
