"""SPDY/3 framing as Kubernetes streaming uses it (moby/spdystream over HTTP Upgrade).

One TCP connection carries many bidirectional streams. Control frames open
(SYN_STREAM), accept (SYN_REPLY) and reset (RST_STREAM) streams; DATA
frames carry bytes, the FIN flag half-closes a side. Header blocks are zlib
compressed with the SPDY/3 dictionary, one compression context per
direction for the whole connection, so every header block must be encoded
and written in order (we do both in one synchronous step on the event loop).

Flow control (WINDOW_UPDATE) is accepted and ignored: spdystream, the peer
kubelet clients use, never sends window updates, so enforcing windows on our
side would stall every transfer after 64 KiB.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import zlib

from hull.cri.streaming.inbox import Inbox

log = logging.getLogger("hull.cri.streaming")

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR, RST_INVALID_STREAM, RST_REFUSED_STREAM, RST_CANCEL = 1, 2, 3, 5
MAX_DATA = 64 << 10           # per DATA frame we write; within StreamReader limits
MAX_FRAME = 16 << 20          # refuse frames larger than this from a peer

_DICT_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status 200|OK version HTTP/1.1 url public set-cookie "
    "keep-alive origin").split()
_DICT_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504"
    "505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, "
    "Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def _dictionary() -> bytes:
    """The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1)."""
    out = bytearray()
    for word in _DICT_WORDS:
        raw = word.replace("|", " ").encode()
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out + _DICT_TAIL.encode())


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    pass


def encode_headers(headers: dict[str, list[str]]) -> bytes:
    out = bytearray(struct.pack(">I", len(headers)))
    for name, values in headers.items():
        key = name.lower().encode()
        value = "\0".join(values).encode()
        out += struct.pack(">I", len(key)) + key + struct.pack(">I", len(value)) + value
    return bytes(out)


def decode_headers(block: bytes) -> dict[str, list[str]]:
    try:
        (count,), pos = struct.unpack_from(">I", block), 4
        headers: dict[str, list[str]] = {}
        for _ in range(count):
            (size,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + size].decode().lower()
            pos += 4 + size
            (size,) = struct.unpack_from(">I", block, pos)
            values = block[pos + 4:pos + 4 + size].decode().split("\0")
            pos += 4 + size
            headers.setdefault(name, []).extend(values)
        return headers
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"bad header block: {e}") from e


class HeaderCodec:
    """Both zlib contexts of one connection."""

    def __init__(self):
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15,
                                         zdict=DICTIONARY)
        self._inflate = zlib.decompressobj(15, zdict=DICTIONARY)

    def compress(self, headers: dict[str, list[str]]) -> bytes:
        raw = encode_headers(headers)
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def decompress(self, data: bytes) -> dict[str, list[str]]:
        try:
            raw = self._inflate.decompress(data)
        except zlib.error as e:
            raise ProtocolError(f"bad compressed headers: {e}") from e
        return decode_headers(raw)


def control_frame(kind: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body


def data_frame(stream_id: int, flags: int, data: bytes) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


class Stream:
    """One SPDY stream: ``read()`` until b"", ``write()``, ``close()`` half-closes our side."""

    def __init__(self, conn: "Connection", stream_id: int, headers: dict[str, list[str]]):
        self.conn = conn
        self.id = stream_id
        self.headers = headers
        self.replied = asyncio.Event()
        self.reply_headers: dict[str, list[str]] | None = None
        self.inbox = Inbox()
        self.remote_closed = False
        self.local_closed = False
        self.was_reset = False

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    async def read(self) -> bytes:
        """The next chunk the peer sent; b"" once it half-closed or the stream was reset."""
        return await self.inbox.get()

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.was_reset:
            raise ConnectionResetError(f"spdy stream {self.id} is closed")
        view = memoryview(data)
        for start in range(0, len(view), MAX_DATA):
            self.conn.send(data_frame(self.id, 0, bytes(view[start:start + MAX_DATA])))
        await self.conn.drain()

    async def close(self) -> None:
        if self.local_closed or self.was_reset or self.conn.closed:
            self.local_closed = True
            return
        self.local_closed = True
        self.conn.send(data_frame(self.id, FLAG_FIN, b""))
        self.conn.forget_if_done(self)
        await self.conn.drain()

    def reset(self, status: int = RST_CANCEL) -> None:
        if not self.was_reset and not self.conn.closed:
            self.conn.send(control_frame(RST_STREAM, 0, struct.pack(">II", self.id, status)))
        self._on_reset()

    # called by the connection

    def _on_data(self, data: bytes, fin: bool) -> None:
        self.inbox.put(data)
        if fin:
            self._on_remote_close()

    def _on_remote_close(self) -> None:
        if not self.remote_closed:
            self.remote_closed = True
            self.inbox.close()

    def _on_reset(self) -> None:
        self.was_reset = True
        self.local_closed = True
        self._on_remote_close()
        self.replied.set()


class Connection:
    """A SPDY session over an asyncio stream pair (server or client side)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 server: bool, on_stream=None):
        self.reader = reader
        self.writer = writer
        self.codec = HeaderCodec()
        self.streams: dict[int, Stream] = {}
        self.next_id = 2 if server else 1
        self.on_stream = on_stream      # called with each stream the peer opens
        self.closed = False
        self.done = asyncio.Event()
        self.last_activity = time.monotonic()

    def send(self, frame: bytes) -> None:
        if not self.closed:
            self.last_activity = time.monotonic()
            self.writer.write(frame)

    async def drain(self) -> None:
        if self.closed:
            raise ConnectionResetError("spdy connection closed")
        await self.writer.drain()

    # streams

    async def open_stream(self, headers: dict[str, str], fin: bool = False) -> Stream:
        """Open a stream (client side) and wait for the peer's SYN_REPLY."""
        stream_id, self.next_id = self.next_id, self.next_id + 2
        stream = Stream(self, stream_id, {k.lower(): [v] for k, v in headers.items()})
        self.streams[stream_id] = stream
        body = struct.pack(">IIBB", stream_id, 0, 0, 0) + self.codec.compress(
            {k: [v] for k, v in headers.items()})
        self.send(control_frame(SYN_STREAM, FLAG_FIN if fin else 0, body))
        stream.local_closed = fin
        await self.drain()
        await stream.replied.wait()
        if stream.reply_headers is None:     # reset or connection lost before the reply
            raise ConnectionResetError(f"spdy stream {stream_id} was refused")
        return stream

    def reply(self, stream: Stream, headers: dict[str, str] | None = None) -> None:
        body = struct.pack(">I", stream.id) + self.codec.compress(
            {k: [v] for k, v in (headers or {}).items()})
        self.send(control_frame(SYN_REPLY, 0, body))

    def forget_if_done(self, stream: Stream) -> None:
        if stream.local_closed and stream.remote_closed:
            self.streams.pop(stream.id, None)

    # the read loop

    async def run(self) -> None:
        """Read frames until the peer goes away; then every stream reads EOF."""
        try:
            while True:
                head = await self.reader.readexactly(8)
                self.last_activity = time.monotonic()
                first, second = struct.unpack(">II", head)
                length = second & 0xFFFFFF
                if length > MAX_FRAME:
                    raise ProtocolError(f"frame of {length} bytes")
                body = await self.reader.readexactly(length) if length else b""
                flags = second >> 24
                if first & 0x80000000:
                    self._control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, body)
                else:
                    stream = self._data(first & 0x7FFFFFFF, flags, body)
                    if stream is not None:
                        await stream.inbox.room()
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError, OSError) as e:
            if not isinstance(e, asyncio.IncompleteReadError):
                log.debug("spdy connection ends: %s", e)
        finally:
            self._teardown()

    def _data(self, stream_id: int, flags: int, body: bytes) -> Stream | None:
        stream = self.streams.get(stream_id)
        if stream is None:
            return None   # data after a reset or for a stream we forgot: drop it
        stream._on_data(body, bool(flags & FLAG_FIN))
        self.forget_if_done(stream)
        return stream

    def _control(self, version: int, kind: int, flags: int, body: bytes) -> None:
        if version != VERSION:
            raise ProtocolError(f"unsupported spdy version {version}")
        if kind == SYN_STREAM:
            self._syn_stream(flags, body)
        elif kind == SYN_REPLY:
            (stream_id,) = struct.unpack_from(">I", body)
            headers = self.codec.decompress(body[4:])
            stream = self.streams.get(stream_id & 0x7FFFFFFF)
            if stream is not None:
                stream.reply_headers = headers
                stream.replied.set()
                if flags & FLAG_FIN:
                    stream._on_remote_close()
        elif kind == HEADERS:
            self.codec.decompress(body[4:])   # keeps the zlib context in step
        elif kind == RST_STREAM:
            (stream_id, _status) = struct.unpack_from(">II", body)
            stream = self.streams.pop(stream_id & 0x7FFFFFFF, None)
            if stream is not None:
                stream._on_reset()
        elif kind == PING:
            self.send(control_frame(PING, 0, body[:4]))
        elif kind == GOAWAY:
            raise ConnectionResetError("peer sent GOAWAY")
        # SETTINGS and WINDOW_UPDATE: nothing to do (see the module docstring)

    def _syn_stream(self, flags: int, body: bytes) -> None:
        stream_id = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
        headers = self.codec.decompress(body[10:])
        if stream_id in self.streams or self.on_stream is None:
            self.send(control_frame(RST_STREAM, 0, struct.pack(">II", stream_id,
                                                                RST_PROTOCOL_ERROR)))
            return
        stream = Stream(self, stream_id, headers)
        self.streams[stream_id] = stream
        if flags & FLAG_FIN:
            stream._on_remote_close()
        self.on_stream(stream)

    def _teardown(self) -> None:
        self.closed = True
        for stream in list(self.streams.values()):
            stream._on_reset()
        self.streams.clear()
        self.done.set()

    async def close(self) -> None:
        """GOAWAY, then close the socket."""
        if not self.closed:
            self.send(control_frame(GOAWAY, 0, struct.pack(">II", 0, 0)))
            try:
                await self.writer.drain()
            except (ConnectionError, OSError):
                pass
        self.closed = True
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
