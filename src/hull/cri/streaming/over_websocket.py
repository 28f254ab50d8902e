"""Exec, attach and port-forward over a WebSocket (channel.k8s.io framing)."""

from __future__ import annotations

import asyncio
import logging
import struct

from hull.cri.streaming import http, portforward
from hull.cri.streaming.idle import IDLE_TIMEOUT, close_when_idle
from hull.cri.streaming.remotecommand import (V1, V4, V5, WS_BASE64, WS_PROTOCOLS,
                                              WS_V4_BASE64, negotiate, websocket_streams)
from hull.cri.streaming.session import options, run_remote_command
from hull.cri.streaming.websocket import WebSocket, accept_key
from hull.cri.streaming.wschannels import Mux

log = logging.getLogger("hull.cri.streaming")

PORT_FORWARD_PROTOCOLS = ["portforward.k8s.io", V4, WS_V4_BASE64, V1, WS_BASE64]
BASE64_PROTOCOLS = (WS_BASE64, WS_V4_BASE64)


def handshake(kind: str, request: http.Request) -> tuple[str | None, bytes]:
    key = request.header("Sec-WebSocket-Key")
    if not key or request.header("Sec-WebSocket-Version") != "13":
        return None, http.response(400, {"Sec-WebSocket-Version": "13"},
                                   b"bad websocket handshake\n")
    server = PORT_FORWARD_PROTOCOLS if kind == "portforward" else WS_PROTOCOLS
    offered = request.tokens("Sec-WebSocket-Protocol")
    headers = {"Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Accept": accept_key(key)}
    if not offered:
        return V1, http.response(101, headers)
    protocol = negotiate(offered, server)
    if protocol is None:
        body = (f"requested protocol(s) are not supported: {offered}; "
                f"supports {server}\n").encode()
        return None, http.response(400, body=body)
    headers["Sec-WebSocket-Protocol"] = protocol
    return protocol, http.response(101, headers)


async def serve_websocket(daemon, kind: str, cached, request: http.Request,
                          reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          idle_timeout: float = IDLE_TIMEOUT) -> None:
    protocol, answer = handshake(kind, request)
    writer.write(answer)
    await writer.drain()
    if protocol is None:
        return
    ws = WebSocket(reader, writer)
    base64_framing = protocol in BASE64_PROTOCOLS
    watchdog = asyncio.ensure_future(close_when_idle(ws, idle_timeout))
    try:
        if kind == "portforward":
            await _port_forward(daemon, cached, request, ws, base64_framing)
            return
        mux = Mux(ws, 5, base64_framing=base64_framing, close_signal=protocol == V5)
        routing = asyncio.ensure_future(mux.run())
        try:
            streams = websocket_streams(mux, protocol, options(kind, cached))
            await run_remote_command(daemon, kind, cached, streams, mux.done)
        finally:
            routing.cancel()
            await asyncio.gather(routing, return_exceptions=True)
    finally:
        watchdog.cancel()
        await asyncio.gather(watchdog, return_exceptions=True)
        await ws.close()


def requested_ports(request: http.Request, cached) -> list[int]:
    values = []
    for raw in request.query.get("port", []):
        values += [v for v in raw.split(",") if v]
    if not values:
        return list(cached.port)
    return [int(v) for v in values]


async def _port_forward(daemon, cached, request: http.Request, ws: WebSocket,
                        base64_framing: bool) -> None:
    """Channels 2i (data) and 2i+1 (error) serve the i-th port; each starts with the port."""
    try:
        ports = requested_ports(request, cached)
    except ValueError:
        ports = []
    if not ports or not all(0 < p < 65536 for p in ports):
        return
    mux = Mux(ws, 2 * len(ports), base64_framing=base64_framing)
    routing = asyncio.ensure_future(mux.run())
    tasks = []
    try:
        for i, port in enumerate(ports):
            prefix = struct.pack("<H", port)
            await mux.send(2 * i, prefix)
            await mux.send(2 * i + 1, prefix)
            tasks.append(asyncio.ensure_future(portforward.forward(
                daemon, cached.pod_sandbox_id, port, mux.channels[2 * i],
                mux.channels[2 * i + 1], half_close=False)))
        everything = asyncio.ensure_future(asyncio.gather(*tasks, return_exceptions=True))
        await asyncio.wait({everything, routing}, return_when=asyncio.FIRST_COMPLETED)
    except (ConnectionError, OSError) as e:
        log.debug("websocket port-forward ends: %s", e)
    finally:
        for task in tasks:
            task.cancel()
        routing.cancel()
        await asyncio.gather(*tasks, routing, return_exceptions=True)
