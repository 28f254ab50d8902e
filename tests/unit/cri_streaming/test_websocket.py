"""RFC 6455 framing and the channel.k8s.io multiplexing on top of it."""

from __future__ import annotations

import asyncio
import base64
import socket

from hull.cri.streaming import websocket as wsmod
from hull.cri.streaming.websocket import WebSocket
from hull.cri.streaming.wschannels import Mux


def test_accept_key_matches_the_rfc_example():
    assert wsmod.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_length_encodings():
    assert wsmod.frame(wsmod.BINARY, b"a" * 125, mask=False)[1] == 125
    medium = wsmod.frame(wsmod.BINARY, b"a" * 300, mask=False)
    assert medium[1] == 126 and int.from_bytes(medium[2:4], "big") == 300
    large = wsmod.frame(wsmod.BINARY, b"a" * 70000, mask=False)
    assert large[1] == 127 and int.from_bytes(large[2:10], "big") == 70000
    masked = wsmod.frame(wsmod.TEXT, b"hello", mask=True)
    assert masked[1] == 0x80 | 5 and masked[6:] != b"hello"


async def _pair():
    a, b = socket.socketpair()
    r1, w1 = await asyncio.open_connection(sock=a)
    r2, w2 = await asyncio.open_connection(sock=b)
    return WebSocket(r1, w1), WebSocket(r2, w2, client=True), (r2, w2)


def test_messages_fragments_and_ping():
    async def scenario():
        server, client, (_, raw_writer) = await _pair()
        await client.send_binary(b"\x00one")
        # a fragmented text message with a ping in between, sent by hand
        raw_writer.write(bytes([0x01, 0x80 | 2]) + b"\0\0\0\0" + b"ab")
        raw_writer.write(bytes([0x89, 0x80 | 1]) + b"\0\0\0\0" + b"p")
        raw_writer.write(bytes([0x80, 0x80 | 2]) + b"\0\0\0\0" + b"cd")
        first = await server.receive()
        second = await server.receive()
        pong = await client._frame()
        await client.close()
        end = await server.receive()
        return first, second, pong, end

    first, second, pong, end = asyncio.run(scenario())
    assert first == (wsmod.BINARY, b"\x00one")
    assert second == (wsmod.TEXT, b"abcd")
    assert pong == (True, wsmod.PONG, b"p")
    assert end is None


def test_unmasked_client_frames_are_refused():
    async def scenario():
        server, _, (_, raw_writer) = await _pair()
        raw_writer.write(bytes([0x82, 3]) + b"abc")
        try:
            await server.receive()
        except wsmod.ProtocolError:
            return True
        return False

    assert asyncio.run(scenario())


def test_channels_binary_base64_and_v5_close():
    async def scenario():
        server, client, _ = await _pair()
        mux = Mux(server, 5, base64_framing=False, close_signal=True)
        routing = asyncio.ensure_future(mux.run())
        await client.send_binary(b"\x00stdin data")
        await client.send_binary(b"\xff\x00")           # v5: CLOSE stdin
        got = await mux.channels[0].read()
        eof = await mux.channels[0].read()
        await mux.channels[1].write(b"out")
        framed = await client.receive()
        await client.close()
        await asyncio.wait_for(routing, 5)

        s2, c2, _ = await _pair()
        mux64 = Mux(s2, 5, base64_framing=True)
        routing64 = asyncio.ensure_future(mux64.run())
        await c2.send_text(b"0" + base64.b64encode(b"typed"))
        typed = await mux64.channels[0].read()
        await mux64.channels[2].write(b"err")
        framed64 = await c2.receive()
        await c2.close()
        await asyncio.wait_for(routing64, 5)
        return got, eof, framed, typed, framed64

    got, eof, framed, typed, framed64 = asyncio.run(scenario())
    assert got == b"stdin data" and eof == b""
    assert framed == (wsmod.BINARY, b"\x01out")
    assert typed == b"typed"
    assert framed64 == (wsmod.TEXT, b"2" + base64.b64encode(b"err"))
