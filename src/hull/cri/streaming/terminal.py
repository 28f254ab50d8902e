"""Terminals for exec: window sizes, and the pty master a runtime sends over a console socket."""

from __future__ import annotations

import array
import asyncio
import fcntl
import socket
import struct
import termios

from hull.cri.streaming.remotecommand import resizes

FIRST_SIZE_SECONDS = 1.0   # clients send the terminal size right after the streams open
CONSOLE_SECONDS = 30.0


def set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def window_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return cols, rows


class SizeFeed:
    """Terminal sizes from the client. The first is awaited briefly so it can be set
    before the command starts: a command that reads its size at once never sees 0x0."""

    def __init__(self, channel):
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.ensure_future(self._feed(channel))
        self.initial: tuple[int, int] | None = None

    async def _feed(self, channel) -> None:
        async for size in resizes(channel):
            self.queue.put_nowait(size)

    async def first(self) -> None:
        try:
            self.initial = await asyncio.wait_for(self.queue.get(), FIRST_SIZE_SECONDS)
        except asyncio.TimeoutError:
            pass

    async def apply(self, resize) -> None:
        while True:
            resize(*await self.queue.get())

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def _receive_fd(conn: socket.socket) -> int:
    conn.settimeout(CONSOLE_SECONDS)
    fds = array.array("i")
    _, ancillary, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    for extra in fds[1:]:
        socket.close(extra)
    return fds[0] if fds else -1


async def receive_console(listener: socket.socket, exited: asyncio.Future) -> int:
    """The pty master the runtime sends; -1 if it exited without sending one."""
    loop = asyncio.get_running_loop()
    accepting = asyncio.ensure_future(loop.sock_accept(listener))
    await asyncio.wait({accepting, exited}, return_when=asyncio.FIRST_COMPLETED)
    if not accepting.done():
        accepting.cancel()
        await asyncio.gather(accepting, return_exceptions=True)
        return -1
    conn, _ = accepting.result()
    with conn:
        conn.setblocking(True)
        return await loop.run_in_executor(None, _receive_fd, conn)
