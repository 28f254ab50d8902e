"""File descriptor hygiene: what may cross into a container and what may not."""

from __future__ import annotations

import os

from hull.sys.libc import _check, _libc

CLOSE_RANGE_CLOEXEC = 1 << 2
_NR_CLOSE_RANGE = 436  # same number on x86_64 and aarch64


def cloexec_from(first: int) -> None:
    """Mark every fd >= ``first`` close-on-exec, so none leaks into the container."""
    try:
        _check(_libc.syscall(_NR_CLOSE_RANGE, first, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC))
    except OSError:  # kernels before 5.11: walk the table
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= first:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass


def move_above(fd: int, floor: int) -> int:
    """Duplicate ``fd`` to a number >= ``floor`` (close-on-exec) and close the old one."""
    import fcntl

    if fd >= floor:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return new
