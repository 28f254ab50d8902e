"""File descriptor hygiene: what may cross into a container and what may not."""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull.sys.libc import _check, _libc

CLOSE_RANGE_CLOEXEC = 1 << 2
_NR_CLOSE_RANGE = 436  # same number on x86_64 and aarch64


def cloexec_from(first: int) -> None:
    """Mark every fd >= ``first`` close-on-exec, so none leaks into the container."""
    try:
        _check(_libc.syscall(_NR_CLOSE_RANGE, first, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC))
    except OSError:  # before 5.11, or a seccomp profile without close_range
        for fd in _open_fds(first):
            try:
                posix.set_inheritable(fd, False)
            except OSError:
                pass


def _open_fds(first: int):
    """fds >= ``first``: from /proc if it is there, else every possible number."""
    try:
        return [int(name) for name in posix.listdir("/proc/self/fd") if int(name) >= first]
    except OSError:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return range(first, min(limit if limit > 0 else 1 << 16, 1 << 20))


def move_above(fd: int, floor: int) -> int:
    """Duplicate ``fd`` to a number >= ``floor`` (close-on-exec) and close the old one."""
    if fd >= floor:
        return fd
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    posix.close(fd)
    return new
