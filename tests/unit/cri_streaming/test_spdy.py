"""SPDY/3 framing: the dictionary, header compression, and a live session over a socketpair."""

from __future__ import annotations

import asyncio
import socket
import struct
import zlib

from hull.cri.streaming import spdy


def test_dictionary_is_the_spdy3_one():
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")
    assert b"\x00\x00\x00\x06200 OK" in spdy.DICTIONARY


def test_header_blocks_share_one_zlib_context_per_direction():
    sender, receiver = spdy.HeaderCodec(), spdy.HeaderCodec()
    blocks = [{"streamType": ["stdout"]}, {"streamType": ["error"], "port": ["80"]},
              {"multi": ["a", "b"]}]
    for headers in blocks:
        wire = sender.compress(headers)
        assert receiver.decompress(wire) == {k.lower(): v for k, v in headers.items()}


def test_a_peer_compressing_with_plain_zlib_and_the_dictionary_is_understood():
    deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
    raw = spdy.encode_headers({"streamtype": ["stdin"]})
    wire = deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)
    assert spdy.HeaderCodec().decompress(wire) == {"streamtype": ["stdin"]}


def test_frames_have_the_spdy3_layout():
    frame = spdy.control_frame(spdy.PING, 0, struct.pack(">I", 7))
    assert frame == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x07"
    assert spdy.data_frame(5, spdy.FLAG_FIN, b"ab") == b"\x00\x00\x00\x05\x01\x00\x00\x02ab"


async def _pair():
    a, b = socket.socketpair()
    server_seen: asyncio.Queue = asyncio.Queue()
    r1, w1 = await asyncio.open_connection(sock=a)
    r2, w2 = await asyncio.open_connection(sock=b)

    def accept(stream):
        server.reply(stream)
        server_seen.put_nowait(stream)

    server = spdy.Connection(r1, w1, server=True, on_stream=accept)
    client = spdy.Connection(r2, w2, server=False)
    tasks = [asyncio.ensure_future(server.run()), asyncio.ensure_future(client.run())]
    return server, client, server_seen, tasks


def test_streams_carry_data_both_ways_and_fin_half_closes():
    async def scenario():
        server, client, seen, tasks = await _pair()
        out = await client.open_stream({"streamType": "stdin"})
        inbound = await seen.get()
        assert inbound.header("streamType") == "stdin"
        assert out.id == 1
        await out.write(b"x" * 100_000)      # several DATA frames
        await out.close()
        got = b""
        while chunk := await inbound.read():
            got += chunk
        await inbound.write(b"reply")
        await inbound.close()
        answer = await out.read()
        assert await out.read() == b""
        await client.close()
        await asyncio.wait_for(server.done.wait(), 5)
        for task in tasks:
            task.cancel()
        return got, answer

    got, answer = asyncio.run(scenario())
    assert got == b"x" * 100_000
    assert answer == b"reply"


def test_reset_and_peer_loss_end_reads():
    async def scenario():
        server, client, seen, tasks = await _pair()
        first = await client.open_stream({"streamType": "error"})
        inbound = await seen.get()
        first.reset()
        assert await asyncio.wait_for(inbound.read(), 5) == b""
        assert inbound.was_reset
        second = await client.open_stream({"streamType": "stdout"})
        await client.close()
        await asyncio.wait_for(server.done.wait(), 5)
        for task in tasks:
            task.cancel()
        return second

    second = asyncio.run(scenario())
    assert second.id == 3


def test_ping_is_answered():
    async def scenario():
        a, b = socket.socketpair()
        r1, w1 = await asyncio.open_connection(sock=a)
        server = spdy.Connection(r1, w1, server=True, on_stream=lambda s: None)
        task = asyncio.ensure_future(server.run())
        r2, w2 = await asyncio.open_connection(sock=b)
        w2.write(spdy.control_frame(spdy.PING, 0, struct.pack(">I", 41)))
        answer = await asyncio.wait_for(r2.readexactly(12), 5)
        w2.close()
        await asyncio.wait_for(task, 5)
        return answer

    assert asyncio.run(scenario()) == spdy.control_frame(spdy.PING, 0, struct.pack(">I", 41))
