"""`hull exec`: ExecSync for a plain command, the CRI Exec streaming URL for -i / -t.

The interactive path opens the URL hulld's Exec RPC returns with
``hull.streaming.client`` (WebSocket, as kubectl 1.30+ does), puts a
terminal into raw mode for ``-t``, forwards stdin and window size, and
copies output as it arrives.
"""

from __future__ import annotations

import asyncio
import os
import sys

import grpc

from hull import errors
from hull._generated import api_pb2 as api
from hull.play import daemons


def run(ep: daemons.Endpoints, container_id: str, command: list[str], stdin: bool,
        tty: bool) -> int:
    cri = daemons.Cri(ep.socket)
    try:
        if not stdin and not tty:
            return _exec_sync(cri, container_id, command)
        try:
            url = cri.runtime.Exec(api.ExecRequest(
                container_id=container_id, cmd=command, tty=tty, stdin=stdin, stdout=True,
                stderr=not tty), timeout=30).url
        except grpc.RpcError as e:
            raise errors.Unavailable(f"cannot exec in container {container_id[:12]}: "
                                     f"{e.details() or e.code().name}") from e
        return asyncio.run(_session(url, stdin, tty))
    finally:
        cri.close()


def _exec_sync(cri, container_id: str, command: list[str]) -> int:
    try:
        resp = cri.runtime.ExecSync(api.ExecSyncRequest(container_id=container_id, cmd=command,
                                                        timeout=0), timeout=None)
    except grpc.RpcError as e:
        raise errors.Unavailable(f"cannot exec in container {container_id[:12]}: "
                                 f"{e.details() or e.code().name}") from e
    sys.stdout.buffer.write(resp.stdout)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(resp.stderr)
    sys.stderr.buffer.flush()
    return resp.exit_code


async def _session(url: str, stdin: bool, tty: bool) -> int:
    from hull.streaming.client import RemoteCommand

    session = await RemoteCommand.open(url, "ws", stdin=stdin, tty=tty)
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    restore = None
    if tty and os.isatty(fd):
        import termios
        import tty as ttymod
        restore = termios.tcgetattr(fd)
        ttymod.setraw(fd)
        size = os.get_terminal_size(fd)
        await session.resize(size.columns, size.lines)
    if stdin:
        _forward_stdin(loop, session, fd)
    _copy_output.offsets = {"stdout": 0, "stderr": 0}
    printer = asyncio.ensure_future(_copy_output(session))
    try:
        outcome = await session.finish(timeout=10 ** 9)
    finally:
        if restore is not None:
            import termios
            termios.tcsetattr(fd, termios.TCSADRAIN, restore)
        printer.cancel()
    _flush(session, _copy_output.offsets)
    return outcome.exit_code


def _forward_stdin(loop, session, fd: int) -> None:
    """Copy stdin to the session from a daemon thread: files and /dev/null cannot be polled."""
    import threading

    def pump() -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                asyncio.run_coroutine_threadsafe(session.close_stdin(), loop)
                return
            asyncio.run_coroutine_threadsafe(session.write(data), loop).result()

    threading.Thread(target=pump, name="stdin", daemon=True).start()


async def _copy_output(session) -> None:
    while True:
        _flush(session, _copy_output.offsets)
        await session.wait_output()


def _flush(session, offsets: dict) -> None:
    for name, stream in (("stdout", sys.stdout.buffer), ("stderr", sys.stderr.buffer)):
        data = getattr(session.outcome, name)
        if len(data) > offsets[name]:
            stream.write(data[offsets[name]:])
            stream.flush()
            offsets[name] = len(data)
