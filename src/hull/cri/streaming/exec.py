"""Exec over a stream: ``<runtime> exec --process`` with the client's stdio.

Without a tty the command's stdin/stdout/stderr are pipes. With a tty the
runtime gets ``--console-socket``: it makes the container-side terminal and
hands us its master over that socket (SCM_RIGHTS); we copy to and from it
and resize it with TIOCSWINSZ, which signals the command itself. The
runtime stays in the foreground, waits for the command and exits with its
code (hull-runc, crun). runc ignores the console socket in the foreground,
so for runc we run it on a pty of ours instead (as CRI-O does): it copies
between that pty and the container's, and applies our pty's size to the
container's on SIGWINCH, so a resize is TIOCSWINSZ on our side plus
SIGWINCH to runc.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import tempfile

from hull.cri.container_exec_sync import process_spec
from hull.cri.streaming import fdio
from hull.cri.streaming.remotecommand import Streams
from hull.cri.streaming.terminal import SizeFeed, receive_console, set_window_size
from hull.errors import FailedPrecondition, NotFound

DRAIN_SECONDS = 5.0    # output still buffered after the process exited
PID_FILE_POLLS, PID_FILE_POLL_SECONDS = 100, 0.05


def running_container(daemon, container_id: str, verb: str):
    c = daemon.store.container(container_id)
    if c is None:
        raise NotFound(f"cannot {verb} container {container_id}: not found")
    runtime = daemon.runtime(c.runtime_handler)
    if not c.state.can_exec() or runtime.exit_status(c.id) is not None:
        raise FailedPrecondition(f"cannot {verb} container {container_id}: it is not running")
    return c, runtime


def exec_argv(runtime, container_id: str, process_file: str, pid_file: str,
              console_socket: str = "") -> list[str]:
    extra = ["--console-socket", console_socket] if console_socket else []
    return [runtime.path, *runtime.args, "--root", runtime.root, "exec", "--process",
            process_file, "--pid-file", pid_file, *extra, container_id]


def foreground_terminal(runtime) -> bool:
    """runc copies a foreground terminal itself and ignores --console-socket then."""
    return os.path.basename(runtime.path).startswith("runc")


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
        fds = _Fds()
        sizes = SizeFeed(streams.resize) if tty and streams.resize is not None else None
        try:
            if sizes is not None:
                await sizes.first()
            if not tty:
                session = _start_pipes(exec_argv(runtime, c.id, process_file, pid_file),
                                       streams, fds)
            elif foreground_terminal(runtime):
                session = _start_foreground_tty(
                    exec_argv(runtime, c.id, process_file, pid_file), streams, fds, sizes)
            else:
                console = os.path.join(tmp, "console.sock")
                session = await _start_console_socket(
                    exec_argv(runtime, c.id, process_file, pid_file, console), console,
                    streams, fds, sizes)
            return await _supervise(session, streams, gone, pid_file, fds, sizes)
        finally:
            if sizes is not None:
                await sizes.stop()
            fds.close_all()


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
    def __init__(self, proc: subprocess.Popen, exited: asyncio.Future, stdin_fd: int,
                 outputs: list, *, close_stdin: bool = False, resize=None):
        self.proc = proc
        self.exited = exited        # resolves when the runtime process ends
        self.stdin_fd = stdin_fd
        self.outputs = outputs      # (fd, channel or None)
        self.close_stdin = close_stdin
        self.resize = resize        # (width, height) -> None


def _wait(proc: subprocess.Popen) -> asyncio.Future:
    """Resolves with the exit code; a pidfd on the loop, so no thread waits per session."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    pidfd = os.pidfd_open(proc.pid)

    def reap() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        if not done.done():
            done.set_result(proc.wait())

    loop.add_reader(pidfd, reap)
    return done


def _start_pipes(argv: list[str], streams: Streams, fds: _Fds) -> _Session:
    stdin_r, stdin_w = os.pipe() if streams.stdin else (subprocess.DEVNULL, -1)
    out_r, out_w = os.pipe() if streams.stdout else (-1, subprocess.DEVNULL)
    err_r, err_w = os.pipe() if streams.stderr else (-1, subprocess.DEVNULL)
    for fd in (stdin_w, out_r, err_r):
        if fd >= 0:
            fds.keep(fdio.nonblocking(fd))
    try:
        proc = subprocess.Popen(argv, stdin=stdin_r, stdout=out_w, stderr=err_w,
                                start_new_session=True)
    finally:
        for fd in (stdin_r, out_w, err_w):
            if fd >= 0:
                os.close(fd)
    outputs = [(fd, ch) for fd, ch in ((out_r, streams.stdout), (err_r, streams.stderr))
               if fd >= 0]
    return _Session(proc, _wait(proc), stdin_w, outputs, close_stdin=True)


def _start_foreground_tty(argv: list[str], streams: Streams, fds: _Fds,
                          sizes: SizeFeed | None) -> _Session:
    master, slave = os.openpty()
    fds.keep(master)
    if sizes is not None and sizes.initial:
        set_window_size(master, *sizes.initial)
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                start_new_session=True)
    finally:
        os.close(slave)
    fdio.nonblocking(master)

    def resize(width: int, height: int) -> None:
        set_window_size(master, width, height)
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGWINCH)

    return _Session(proc, _wait(proc), master if streams.stdin else -1,
                    [(master, streams.stdout)], resize=resize)


async def _start_console_socket(argv: list[str], path: str, streams: Streams, fds: _Fds,
                                sizes: SizeFeed | None) -> _Session:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        listener.bind(path)
        listener.listen(1)
        listener.setblocking(False)
        err_r, err_w = os.pipe()    # the runtime's own complaints, shown like output
        fds.keep(fdio.nonblocking(err_r))
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err_w, stderr=err_w,
                                    start_new_session=True)
        finally:
            os.close(err_w)
        exited = _wait(proc)
        master = await receive_console(listener, exited)
    finally:
        listener.close()
    outputs = [(err_r, streams.stdout)]
    if master < 0:      # the runtime failed before making a terminal
        return _Session(proc, exited, -1, outputs)
    fds.keep(fdio.nonblocking(master))
    if sizes is not None and sizes.initial:
        set_window_size(master, *sizes.initial)
    return _Session(proc, exited, master if streams.stdin else -1,
                    outputs + [(master, streams.stdout)],
                    resize=lambda width, height: set_window_size(master, width, height))


async def _supervise(s: _Session, streams: Streams, gone: asyncio.Event,
                     pid_file: str, fds: _Fds, sizes: SizeFeed | None) -> int | None:
    outputs = [asyncio.ensure_future(_copy_out(fd, ch)) for fd, ch in s.outputs]
    helpers = []
    if s.stdin_fd >= 0 and streams.stdin is not None:
        helpers.append(asyncio.ensure_future(_copy_in(streams.stdin, s.stdin_fd,
                                                      fds.close if s.close_stdin else None)))
    if s.resize is not None and sizes is not None:
        helpers.append(asyncio.ensure_future(sizes.apply(s.resize)))
    client_gone = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait([s.exited, client_gone], return_when=asyncio.FIRST_COMPLETED)
        if not s.exited.done():
            await _kill(s.proc, s.exited, pid_file)
            await s.exited
            return None
        if outputs:
            await asyncio.wait(outputs, timeout=DRAIN_SECONDS)
        return s.proc.returncode
    except asyncio.CancelledError:
        pid = _read_pid(pid_file)    # the server is stopping: leave nothing running
        try:
            if pid:
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        if s.proc.returncode is None:
            s.proc.kill()
        raise
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


async def _kill(proc: subprocess.Popen, exited: asyncio.Future, pid_file: str) -> None:
    """The client left: end the command in the container, then the runtime.

    The runtime writes the pid file just after starting the command, so a
    client leaving at once may beat it: wait for the file while the runtime lives.
    """
    for _ in range(PID_FILE_POLLS):
        pid = _read_pid(pid_file)
        if pid or exited.done():
            break
        await asyncio.sleep(PID_FILE_POLL_SECONDS)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if proc.returncode is None and not exited.done():
        proc.kill()


def _read_pid(pid_file: str) -> int:
    try:
        with open(pid_file) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0
