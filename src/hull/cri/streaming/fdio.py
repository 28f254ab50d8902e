"""Non-blocking file descriptors on the event loop: pipes, pty masters, seqpacket sockets."""

from __future__ import annotations

import asyncio
import errno
import os

CHUNK = 256 << 10    # fewer, larger frames: the per-frame Python cost dominates


async def _ready(fd: int, writable: bool) -> None:
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    (loop.add_writer if writable else loop.add_reader)(fd, wake)
    try:
        await waiter
    finally:
        (loop.remove_writer if writable else loop.remove_reader)(fd)


async def read(fd: int, size: int = CHUNK) -> bytes:
    """The next bytes; b"" at end of file (EIO on a pty master whose slave side closed)."""
    while True:
        try:
            return os.read(fd, size)
        except BlockingIOError:
            await _ready(fd, writable=False)
        except OSError as e:
            if e.errno == errno.EIO:
                return b""
            raise


async def write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            await _ready(fd, writable=True)


async def pump(read_chunk, write_chunk) -> None:
    """Copy until the source ends: read_chunk() -> bytes (b"" ends), write_chunk(bytes)."""
    while True:
        chunk = await read_chunk()
        if not chunk:
            return
        await write_chunk(chunk)


def nonblocking(fd: int) -> int:
    os.set_blocking(fd, False)
    return fd
