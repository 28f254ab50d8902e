"""Streaming clients for tests: what kubectl/crictl do against a CRI streaming URL.

``RemoteCommand`` runs exec/attach over SPDY/3.1 (``transport="spdy"``,
client-go's SPDY executor) or WebSocket (``"ws"``, its WebSocket executor);
it lives in ``hull.streaming.client`` (``hull exec`` uses it too) and is
re-exported here. ``PortForward`` opens forwarded connections the same two
ways. All async: drive them with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import struct

from hull.cri.streaming import spdy
from hull.cri.streaming.websocket import WebSocket
from hull.cri.streaming.wschannels import Mux
from hull.streaming.client import (HTTPError, Outcome, RemoteCommand, spdy_headers, upgrade,
                                   ws_headers)

__all__ = ["HTTPError", "Outcome", "PortForward", "RemoteCommand", "read_all", "read_until",
           "spdy_headers", "upgrade", "ws_headers"]


class PortForward:
    """Forwarded connections to one pod: ``connect(port)`` -> (data, error) channels."""

    def __init__(self, transport: str):
        self.transport = transport
        self.conn = None
        self._next_request = 0
        self._tasks: list = []

    @classmethod
    async def open_spdy(cls, url: str) -> "PortForward":
        reader, writer, _ = await upgrade(url, spdy_headers(["portforward.k8s.io"]))
        self = cls("spdy")
        self.conn = spdy.Connection(reader, writer, server=False)
        self._tasks.append(asyncio.ensure_future(self.conn.run()))
        return self

    async def connect(self, port: int):
        """A new forwarded TCP connection over SPDY (error stream first, as kubectl)."""
        request_id = str(self._next_request)
        self._next_request += 1
        headers = {"port": str(port), "requestID": request_id}
        error = await self.conn.open_stream({"streamType": "error", **headers})
        await error.close()     # kubectl only reads the error stream
        data = await self.conn.open_stream({"streamType": "data", **headers})
        return data, error

    @classmethod
    async def open_ws(cls, url: str, ports: list[int],
                      protocols: tuple[str, ...] = ("v4.channel.k8s.io",)):
        """One WebSocket serving ``ports``; returns (forward, [(data, error) per port])."""
        query = "&".join(f"port={p}" for p in ports)
        reader, writer, answer = await upgrade(f"{url}?{query}", ws_headers(list(protocols)),
                                               method="GET")
        protocol = answer.get("sec-websocket-protocol", "")
        self = cls("ws")
        ws = WebSocket(reader, writer, client=True)
        self.conn = ws
        mux = Mux(ws, 2 * len(ports), base64_framing="base64" in protocol)
        self._tasks.append(asyncio.ensure_future(mux.run()))
        pairs = []
        for i, port in enumerate(ports):
            for channel in (mux.channels[2 * i], mux.channels[2 * i + 1]):
                prefix = await channel.read()
                if prefix != struct.pack("<H", port):
                    raise RuntimeError(f"channel {channel.number} announced {prefix!r}")
            pairs.append((mux.channels[2 * i], mux.channels[2 * i + 1]))
        return self, pairs

    async def close(self) -> None:
        await self.conn.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def read_all(channel, timeout: float = 20.0) -> bytes:
    async def body() -> bytes:
        out = bytearray()
        while True:
            chunk = await channel.read()
            if not chunk:
                return bytes(out)
            out += chunk
    return await asyncio.wait_for(body(), timeout)


async def read_until(channel, needle: bytes, timeout: float = 20.0) -> bytes:
    async def body() -> bytes:
        out = bytearray()
        while needle not in out:
            chunk = await channel.read()
            if not chunk:
                break
            out += chunk
        return bytes(out)
    return await asyncio.wait_for(body(), timeout)
