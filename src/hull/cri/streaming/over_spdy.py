"""Exec, attach and port-forward over an upgraded SPDY/3.1 connection."""

from __future__ import annotations

import asyncio
import logging

from hull.cri.streaming import http, portforward, spdy
from hull.cri.streaming.idle import IDLE_TIMEOUT, close_when_idle
from hull.cri.streaming.remotecommand import (SPDY_PROTOCOLS, STREAM_TIMEOUT, V1,
                                              collect_spdy_streams, negotiate)
from hull.cri.streaming.session import options, run_remote_command

log = logging.getLogger("hull.cri.streaming")

PORT_FORWARD_PROTOCOL = "portforward.k8s.io"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"


def handshake(kind: str, request: http.Request) -> tuple[str | None, bytes]:
    """(protocol, response): protocol None means the response refuses the upgrade."""
    server = [PORT_FORWARD_PROTOCOL] if kind == "portforward" else SPDY_PROTOCOLS
    offered = request.tokens(PROTOCOL_HEADER)
    headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}
    if not offered:   # an old client: the first protocol version
        return (PORT_FORWARD_PROTOCOL if kind == "portforward" else V1), http.response(101, headers)
    protocol = negotiate(offered, server)
    if protocol is None:
        body = (f"unable to upgrade: unable to negotiate protocol: client supports "
                f"{offered}, server supports {server}\n").encode()
        return None, http.response(403, {"X-Accepted-Stream-Protocol-Versions":
                                         ", ".join(server)}, body)
    headers[PROTOCOL_HEADER] = protocol
    return protocol, http.response(101, headers)


async def serve_spdy(daemon, kind: str, cached, request: http.Request,
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     idle_timeout: float = IDLE_TIMEOUT) -> None:
    protocol, answer = handshake(kind, request)
    writer.write(answer)
    await writer.drain()
    if protocol is None:
        return
    incoming: asyncio.Queue = asyncio.Queue()

    def accept(stream: spdy.Stream) -> None:
        conn.reply(stream)
        incoming.put_nowait(stream)

    conn = spdy.Connection(reader, writer, server=True, on_stream=accept)
    reading = asyncio.ensure_future(conn.run())
    reading.add_done_callback(lambda _: incoming.put_nowait(None))
    watchdog = asyncio.ensure_future(close_when_idle(conn, idle_timeout))
    try:
        if kind == "portforward":
            await _port_forward(daemon, cached, incoming)
        else:
            try:
                streams = await collect_spdy_streams(incoming, protocol, options(kind, cached))
            except (TimeoutError, ConnectionError) as e:
                log.info("%s on %s: %s", kind, cached.container_id, e)
                return
            await run_remote_command(daemon, kind, cached, streams, conn.done)
    finally:
        watchdog.cancel()
        await conn.close()
        reading.cancel()
        await asyncio.gather(reading, watchdog, return_exceptions=True)


class _Pair:
    def __init__(self, request_id: str):
        self.request_id = request_id
        self.data: spdy.Stream | None = None
        self.error: spdy.Stream | None = None
        self.port = 0
        self.timer: asyncio.TimerHandle | None = None


async def _port_forward(daemon, cached, incoming: asyncio.Queue) -> None:
    """Each forwarded connection is a data stream and an error stream with one requestID."""
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task] = set()
    loop = asyncio.get_running_loop()
    try:
        while True:
            stream = await incoming.get()
            if stream is None:
                return
            pair = _pair_for(stream, pairs, loop)
            if pair is None:
                continue
            if pair.data is not None and pair.error is not None:
                pairs.pop(pair.request_id, None)
                if pair.timer:
                    pair.timer.cancel()
                task = asyncio.ensure_future(_forward_pair(daemon, cached.pod_sandbox_id, pair))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _pair_for(stream: spdy.Stream, pairs: dict, loop) -> _Pair | None:
    kind = stream.header("streamType")
    if kind not in ("data", "error"):
        stream.reset()
        return None
    request_id = stream.header("requestID")
    if not request_id:   # clients before requestID: the error stream comes first, id - 2
        request_id = str(stream.id - 2 if kind == "data" else stream.id)
    pair = pairs.get(request_id)
    if pair is None:
        pair = pairs[request_id] = _Pair(request_id)
        pair.timer = loop.call_later(STREAM_TIMEOUT, _expire, pairs, request_id)
    if getattr(pair, kind) is not None:
        stream.reset()
        return None
    setattr(pair, kind, stream)
    try:
        port = int(stream.header("port"))
    except ValueError:
        port = 0
    pair.port = pair.port or port
    return pair


def _expire(pairs: dict, request_id: str) -> None:
    pair = pairs.pop(request_id, None)
    if pair is None:
        return
    for stream in (pair.data, pair.error):
        if stream is not None:
            stream.reset()


async def _forward_pair(daemon, sandbox_id: str, pair: _Pair) -> None:
    try:
        if not 0 < pair.port < 65536:
            await pair.error.write(f"invalid port {pair.port}".encode())
        else:
            await portforward.forward(daemon, sandbox_id, pair.port, pair.data, pair.error)
    except (ConnectionError, OSError) as e:
        log.debug("port-forward pair %s ends: %s", pair.request_id, e)
    finally:
        for stream in (pair.error, pair.data):
            try:
                await stream.close()
            except (ConnectionError, OSError):
                pass
