"""Attach over a stream: the client joins the container's stdio held by conmon.

conmon listens on a SOCK_SEQPACKET socket ``attach`` in the container's
bundle, reachable through ``<socket dir>/<container id>`` (a symlink conmon
makes so the path fits a unix socket address). Each message conmon sends
starts with one byte naming the pipe (2 stdout, 3 stderr); what we send
goes to the container's stdin as is, and a write shutdown closes it (when
the container was created stdin_once). Terminal resizes go through conmon's
control fifo ``<bundle>/ctl`` as ``1 <height> <width>``. As in CRI-O, the
socket path is reached through /proc/self/fd/<dir fd> because the full path
can exceed the 108 bytes a unix socket address holds.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket

from hull.cri.streaming.exec import running_container
from hull.cri.streaming.remotecommand import Streams, resizes
from hull.errors import FailedPrecondition

PIPE_STDOUT, PIPE_STDERR = 2, 3
BUFFER = 8192 + 1            # conmon's STDIO_BUF_SIZE plus the pipe byte
CTL_RESIZE = 1


def attach_socket_dir(runtime, container_id: str) -> str:
    return os.path.join(runtime.socket_dir, container_id)


def connect(directory: str, container_id: str) -> socket.socket:
    dir_fd = os.open(directory, os.O_PATH | os.O_DIRECTORY)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dir_fd}/attach")
    except OSError as e:
        sock.close()
        raise FailedPrecondition(f"cannot attach to container {container_id}: its monitor's "
                                 f"attach socket is not reachable: {e.strerror}") from e
    finally:
        os.close(dir_fd)
    sock.setblocking(False)
    return sock


def write_resize(bundle: str, width: int, height: int) -> None:
    try:
        fd = os.open(os.path.join(bundle, "ctl"), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENXIO):
            return    # the monitor is gone: nothing to resize
        raise
    try:
        os.write(fd, f"{CTL_RESIZE} {height} {width}\n".encode())
    finally:
        os.close(fd)


async def run(daemon, container_id: str, streams: Streams, gone: asyncio.Event) -> None:
    c, runtime = running_container(daemon, container_id, "attach to")
    try:
        sock = connect(attach_socket_dir(runtime, c.id), c.id)
    except FileNotFoundError as e:
        raise FailedPrecondition(f"cannot attach to container {c.id}: its monitor "
                                 f"is not running") from e
    stdin_once = bool(c.config.stdin_once)
    bundle = daemon.container_dir(c.id)
    try:
        await _relay(sock, streams, gone, stdin_once, bundle)
    finally:
        sock.close()


async def _relay(sock: socket.socket, streams: Streams, gone: asyncio.Event,
                 stdin_once: bool, bundle: str) -> None:
    output = asyncio.ensure_future(_receive(sock, streams))
    helpers = []
    stdin_done = None
    if streams.stdin is not None:
        stdin_done = asyncio.ensure_future(_send_stdin(sock, streams.stdin))
    if streams.resize is not None:
        helpers.append(asyncio.ensure_future(_apply_resizes(streams.resize, bundle)))
    client_gone = asyncio.ensure_future(gone.wait())
    waiting = {output, client_gone} | ({stdin_done} if stdin_done else set())
    try:
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if stdin_done in done and not output.done() and not client_gone.done():
            # stdin ended: with stdin_once the container sees EOF and we follow its
            # output to the end; otherwise the attach session is over
            if stdin_once and (streams.stdout or streams.stderr):
                await asyncio.wait({output, client_gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [output, client_gone, *helpers, *([stdin_done] if stdin_done else [])]:
            task.cancel()
        await asyncio.gather(output, client_gone, *helpers,
                             *([stdin_done] if stdin_done else []), return_exceptions=True)


async def _receive(sock: socket.socket, streams: Streams) -> None:
    loop = asyncio.get_running_loop()
    while True:
        message = await loop.sock_recv(sock, BUFFER)
        if not message:
            return
        channel = {PIPE_STDOUT: streams.stdout, PIPE_STDERR: streams.stderr}.get(message[0])
        if channel is not None and len(message) > 1:
            await channel.write(message[1:])


async def _send_stdin(sock: socket.socket, channel) -> None:
    loop = asyncio.get_running_loop()
    while True:
        chunk = await channel.read()
        if not chunk:
            break
        for start in range(0, len(chunk), BUFFER - 1):
            await loop.sock_sendall(sock, chunk[start:start + BUFFER - 1])
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


async def _apply_resizes(channel, bundle: str) -> None:
    async for width, height in resizes(channel):
        write_resize(bundle, width, height)
