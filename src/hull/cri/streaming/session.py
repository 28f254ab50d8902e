"""What an exec or attach does once its streams exist, whatever the transport."""

from __future__ import annotations

import asyncio
import logging

from hull.cri.streaming import attach, exec as exec_
from hull.cri.streaming.remotecommand import Options, Streams, report
from hull.errors import HullError

log = logging.getLogger("hull.cri.streaming")


def options(kind: str, request) -> Options:
    """Which streams the RPC asked for (kubelet reads them from the cached request)."""
    return Options(stdin=request.stdin, stdout=request.stdout,
                   stderr=request.stderr and not request.tty, tty=request.tty)


async def run_remote_command(daemon, kind: str, request, streams: Streams,
                             gone: asyncio.Event) -> None:
    cmd = list(request.cmd) if kind == "exec" else None
    try:
        if kind == "exec":
            code = await exec_.run(daemon, request.container_id, cmd, request.tty, streams, gone)
            if code is None:
                return          # the client left; nobody to tell
            await report(streams, cmd, code)
        else:
            await attach.run(daemon, request.container_id, streams, gone)
            await report(streams, None, 0)
    except HullError as e:
        await _report_error(streams, str(e))
    except (ConnectionError, OSError) as e:
        log.debug("%s on %s ends: %s", kind, request.container_id, e)
        if not gone.is_set():
            await _report_error(streams, f"cannot {kind} in container "
                                         f"{request.container_id}: {e}")
    finally:
        await close_all(streams)


async def _report_error(streams: Streams, message: str) -> None:
    try:
        await report(streams, None, None, error=message)
    except (ConnectionError, OSError):
        pass


async def close_all(streams: Streams) -> None:
    for channel in (streams.stdout, streams.stderr, streams.error):
        if channel is not None:
            try:
                await channel.close()
            except (ConnectionError, OSError):
                pass
