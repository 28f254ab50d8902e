"""Numbered channels multiplexed over one WebSocket (the channel.k8s.io framing).

Every message starts with its channel number: one byte in the binary
protocols, an ASCII digit followed by base64 text in the base64 ones. In
v5.channel.k8s.io a message on channel 255 whose payload is one channel
number half-closes that channel (the client's stdin EOF).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from hull.cri.streaming.inbox import Inbox
from hull.cri.streaming.websocket import BINARY, TEXT, ProtocolError, WebSocket

log = logging.getLogger("hull.cri.streaming")

CLOSE_CHANNEL = 255
MAX_CHUNK = 64 << 10


class Channel:
    """One numbered channel: the same read/write/close shape as a SPDY stream."""

    def __init__(self, mux: "Mux", number: int):
        self.mux = mux
        self.number = number
        self.inbox = Inbox()
        self.remote_closed = False

    async def read(self) -> bytes:
        return await self.inbox.get()

    async def write(self, data: bytes) -> None:
        for start in range(0, len(data), MAX_CHUNK):
            await self.mux.send(self.number, data[start:start + MAX_CHUNK])

    async def close(self) -> None:
        """Nothing to send: a channel ends with the connection (kubelet does the same)."""

    def _on_data(self, data: bytes) -> None:
        if not self.remote_closed:
            self.inbox.put(data)

    def _on_close(self) -> None:
        if not self.remote_closed:
            self.remote_closed = True
            self.inbox.close()


class Mux:
    def __init__(self, ws: WebSocket, count: int, *, base64_framing: bool,
                 close_signal: bool = False):
        self.ws = ws
        self.base64 = base64_framing
        self.close_signal = close_signal
        self.channels = [Channel(self, i) for i in range(count)]
        self._send_lock = asyncio.Lock()
        self.done = asyncio.Event()

    async def send(self, number: int, data: bytes) -> None:
        async with self._send_lock:
            if self.base64:
                await self.ws.send_text(str(number).encode() + base64.b64encode(data))
            else:
                await self.ws.send_binary(bytes([number]) + data)

    async def run(self) -> None:
        """Route incoming messages to channels until the connection closes."""
        try:
            while True:
                message = await self.ws.receive()
                if message is None:
                    break
                channel = self._route(*message)
                if channel is not None:
                    await channel.inbox.room()
        except (ProtocolError, ConnectionError, OSError) as e:
            log.debug("websocket ends: %s", e)
        finally:
            for channel in self.channels:
                channel._on_close()
            self.done.set()

    def _route(self, opcode: int, payload: bytes) -> Channel | None:
        number, data = self._split(opcode, payload)
        if number is None:
            return None
        if number == CLOSE_CHANNEL and self.close_signal:
            if data and data[0] < len(self.channels):
                self.channels[data[0]]._on_close()
            return None
        if number < len(self.channels):
            self.channels[number]._on_data(data)
            return self.channels[number]
        return None

    def _split(self, opcode: int, payload: bytes) -> tuple[int | None, bytes]:
        if not payload:
            return None, b""
        if self.base64:
            if opcode != TEXT:
                return None, b""
            digits = payload[:1]
            try:
                return int(digits), base64.b64decode(payload[1:], validate=False)
            except (ValueError, binascii.Error):
                return None, b""
        if opcode != BINARY and opcode != TEXT:
            return None, b""
        return payload[0], payload[1:]
