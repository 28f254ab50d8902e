"""Freeze a mounted filesystem for a consistent copy of its block device."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

FIFREEZE = 0xC0045877
FITHAW = 0xC0045878


@contextlib.contextmanager
def frozen(mount_point: str) -> Iterator[None]:
    """Flush and block writes to the filesystem at ``mount_point`` while inside."""
    fd = os.open(mount_point, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, FIFREEZE, 0)
        try:
            yield
        finally:
            fcntl.ioctl(fd, FITHAW, 0)
    finally:
        os.close(fd)
