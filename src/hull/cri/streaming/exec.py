"""Exec over a stream: ``<runtime> exec --process`` with the client's stdio.

Without a tty the command's stdin/stdout/stderr are pipes. With a tty the
runtime runs in the foreground on a pty we own (as CRI-O does): it creates
the container-side terminal, copies between the two, and applies our pty's
size to it on SIGWINCH, so a resize is TIOCSWINSZ on our master followed
by SIGWINCH to the runtime. The exit code is the runtime's.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import struct
import subprocess
import tempfile
import termios

from hull.cri.container_exec_sync import process_spec
from hull.cri.streaming import fdio
from hull.cri.streaming.remotecommand import Streams, resizes
from hull.errors import FailedPrecondition, NotFound

DRAIN_SECONDS = 5.0    # output still buffered after the process exited
FIRST_SIZE_SECONDS = 1.0   # clients send the terminal size right after the streams open


def running_container(daemon, container_id: str, verb: str):
    c = daemon.store.container(container_id)
    if c is None:
        raise NotFound(f"cannot {verb} container {container_id}: not found")
    runtime = daemon.runtime(c.runtime_handler)
    if not c.state.can_exec() or runtime.exit_status(c.id) is not None:
        raise FailedPrecondition(f"cannot {verb} container {container_id}: it is not running")
    return c, runtime


def exec_argv(runtime, container_id: str, process_file: str, pid_file: str) -> list[str]:
    return [runtime.path, *runtime.args, "--root", runtime.root, "exec", "--process",
            process_file, "--pid-file", pid_file, container_id]


def set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def run(daemon, container_id: str, cmd: list[str], tty: bool, streams: Streams,
              gone: asyncio.Event) -> int | None:
    """Run ``cmd`` in the container; its exit code, or None if the client went away."""
    c, runtime = running_container(daemon, container_id, "exec in")
    process = process_spec(daemon, c, cmd, tty)
    with tempfile.TemporaryDirectory(prefix="hull-exec-") as tmp:
        process_file = os.path.join(tmp, "process.json")
        pid_file = os.path.join(tmp, "pid")
        with open(process_file, "w") as f:
            json.dump(process, f)
        argv = exec_argv(runtime, c.id, process_file, pid_file)
        fds = _Fds()
        sizes = _SizeFeed(streams.resize) if tty and streams.resize is not None else None
        try:
            if sizes is not None:
                await sizes.first()
            session = _start(argv, tty, streams, fds, sizes)
            return await _supervise(session, streams, gone, pid_file, fds, sizes)
        finally:
            if sizes is not None:
                await sizes.stop()
            fds.close_all()


class _SizeFeed:
    """Terminal sizes from the client; the first one is applied before the runtime starts,
    so the command never sees a 0x0 terminal (runtime reads it once at start)."""

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

    async def apply(self, fd: int, proc: subprocess.Popen) -> None:
        while True:
            width, height = await self.queue.get()
            set_window_size(fd, width, height)
            if proc.returncode is None:
                os.kill(proc.pid, signal.SIGWINCH)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class _Fds:
    """Our ends of the command's stdio; each closed exactly once."""

    def __init__(self):
        self.open: set[int] = set()

    def keep(self, fd: int) -> int:
        self.open.add(fd)
        return fd

    def close(self, fd: int) -> None:
        if fd in self.open:
            self.open.discard(fd)
            os.close(fd)

    def close_all(self) -> None:
        for fd in list(self.open):
            self.close(fd)


class _Session:
    def __init__(self, proc: subprocess.Popen, stdin_fd: int, outputs: list, pty_fd: int):
        self.proc = proc
        self.stdin_fd = stdin_fd
        self.outputs = outputs      # (fd, channel or None)
        self.pty_fd = pty_fd


def _start(argv: list[str], tty: bool, streams: Streams, fds: _Fds,
           sizes: _SizeFeed | None) -> _Session:
    keep = fds.keep
    if tty:
        master, slave = os.openpty()
        keep(master)
        if sizes is not None and sizes.initial:
            set_window_size(master, *sizes.initial)
        try:
            proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                    start_new_session=True)
        finally:
            os.close(slave)
        fdio.nonblocking(master)
        return _Session(proc, master if streams.stdin else -1,
                        [(master, streams.stdout)], master)
    stdin_r, stdin_w = os.pipe() if streams.stdin else (subprocess.DEVNULL, -1)
    out_r, out_w = os.pipe() if streams.stdout else (-1, subprocess.DEVNULL)
    err_r, err_w = os.pipe() if streams.stderr else (-1, subprocess.DEVNULL)
    for fd in (stdin_w, out_r, err_r):
        if fd >= 0:
            keep(fdio.nonblocking(fd))
    try:
        proc = subprocess.Popen(argv, stdin=stdin_r, stdout=out_w, stderr=err_w,
                                start_new_session=True)
    finally:
        for fd in (stdin_r, out_w, err_w):
            if fd >= 0:
                os.close(fd)
    outputs = [(fd, ch) for fd, ch in ((out_r, streams.stdout), (err_r, streams.stderr))
               if fd >= 0]
    return _Session(proc, stdin_w, outputs, -1)


async def _supervise(s: _Session, streams: Streams, gone: asyncio.Event,
                     pid_file: str, fds: _Fds, sizes: _SizeFeed | None) -> int | None:
    loop = asyncio.get_running_loop()
    outputs = [asyncio.ensure_future(_copy_out(fd, ch)) for fd, ch in s.outputs]
    helpers = []
    if s.stdin_fd >= 0 and streams.stdin is not None:
        helpers.append(asyncio.ensure_future(_copy_in(streams.stdin, s.stdin_fd,
                                                     fds.close if s.pty_fd < 0 else None)))
    if s.pty_fd >= 0 and sizes is not None:
        helpers.append(asyncio.ensure_future(sizes.apply(s.pty_fd, s.proc)))
    exited = loop.run_in_executor(None, s.proc.wait)
    client_gone = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait([exited, client_gone], return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            _kill(s.proc, pid_file)
            await exited
            return None
        if outputs:
            await asyncio.wait(outputs, timeout=DRAIN_SECONDS)
        return s.proc.returncode
    finally:
        client_gone.cancel()
        for task in outputs + helpers:
            task.cancel()
        await asyncio.gather(*outputs, *helpers, return_exceptions=True)


async def _copy_out(fd: int, channel) -> None:
    while True:
        chunk = await fdio.read(fd)
        if not chunk:
            return
        if channel is not None:
            await channel.write(chunk)


async def _copy_in(channel, fd: int, close_at_end) -> None:
    try:
        await fdio.pump(channel.read, lambda data: fdio.write(fd, data))
    except OSError:
        pass   # the command closed its stdin
    if close_at_end:
        close_at_end(fd)    # the command sees end of input


def _kill(proc: subprocess.Popen, pid_file: str) -> None:
    """The client left: end the command in the container, then the runtime."""
    try:
        with open(pid_file) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    if proc.returncode is None:
        proc.kill()
