"""RFC 6455 WebSocket framing over an asyncio stream pair (server or client side)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 16 << 20
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG = 1000, 1002, 1009


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class ProtocolError(Exception):
    pass


def frame(opcode: int, payload: bytes, *, mask: bool) -> bytes:
    head = bytearray([0x80 | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head.append(bit | size)
    elif size < 1 << 16:
        head += struct.pack(">BH", bit | 126, size)
    else:
        head += struct.pack(">BQ", bit | 127, size)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + _apply_mask(payload, key)


def _apply_mask(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big")


class WebSocket:
    """Messages in, messages out. Servers send unmasked frames and expect masked ones."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 client: bool = False):
        self.reader = reader
        self.writer = writer
        self.client = client
        self.closed = False
        self.close_sent = False
        self.last_activity = time.monotonic()

    async def receive(self) -> tuple[int, bytes] | None:
        """The next data message (opcode, payload); None once the connection closed."""
        message = bytearray()
        opcode = None
        while True:
            try:
                fin, op, payload = await self._frame()
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                self.closed = True
                return None
            if op == CLOSE:
                await self._answer_close(payload)
                return None
            if op == PING:
                await self._send(PONG, payload)
                continue
            if op == PONG:
                continue
            if op != CONTINUATION:
                if opcode is not None:
                    raise ProtocolError("new message before the last one finished")
                opcode = op
            elif opcode is None:
                raise ProtocolError("continuation without a message")
            message += payload
            if len(message) > MAX_MESSAGE:
                raise ProtocolError("message too big")
            if fin:
                return opcode, bytes(message)

    async def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        self.last_activity = time.monotonic()
        size = b1 & 0x7F
        if size == 126:
            (size,) = struct.unpack(">H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack(">Q", await self.reader.readexactly(8))
        if size > MAX_MESSAGE:
            raise ProtocolError("frame too big")
        key = await self.reader.readexactly(4) if b1 & 0x80 else None
        if key is None and not self.client:
            raise ProtocolError("client frames must be masked")
        payload = await self.reader.readexactly(size) if size else b""
        if key is not None:
            payload = _apply_mask(payload, key)
        return bool(b0 & 0x80), b0 & 0x0F, payload

    async def _answer_close(self, payload: bytes) -> None:
        if not self.close_sent:
            try:
                await self._send(CLOSE, payload[:2])
            except (ConnectionError, OSError):
                pass
        self.closed = True

    async def _send(self, opcode: int, payload: bytes) -> None:
        if self.closed or (self.close_sent and opcode != CLOSE):
            raise ConnectionResetError("websocket closed")
        self.last_activity = time.monotonic()
        self.writer.write(frame(opcode, payload, mask=self.client))
        await self.writer.drain()

    async def send_binary(self, payload: bytes) -> None:
        await self._send(BINARY, payload)

    async def send_text(self, payload: bytes) -> None:
        await self._send(TEXT, payload)

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        if not self.close_sent and not self.closed:
            self.close_sent = True
            try:
                await self._send(CLOSE, struct.pack(">H", code))
            except (ConnectionError, OSError):
                pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        self.closed = True
