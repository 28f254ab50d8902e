"""Token cache rules, protocol negotiation, status JSON and resize decoding."""

from __future__ import annotations

import asyncio
import json

import pytest

from hull.cri.streaming import remotecommand as rc
from hull.cri.streaming.tokens import TokenCache
from hull.errors import ResourceExhausted


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_single_use_and_expire():
    clock = Clock()
    cache = TokenCache(ttl=60, clock=clock)
    first, second = cache.insert("a"), cache.insert("b")
    assert first != second and len(first) >= 10
    assert cache.consume(first) == "a"
    assert cache.consume(first) is None
    clock.now += 60.5
    assert cache.consume(second) is None
    assert cache.consume("never-issued") is None


def test_capacity_counts_only_live_tokens():
    clock = Clock()
    cache = TokenCache(ttl=60, capacity=2, clock=clock)
    cache.insert(1)
    cache.insert(2)
    with pytest.raises(ResourceExhausted):
        cache.insert(3)
    clock.now += 61
    cache.insert(4)
    assert len(cache) == 1


def test_negotiation_follows_the_client_order():
    assert rc.negotiate(["v3.channel.k8s.io", rc.V4], rc.SPDY_PROTOCOLS) == rc.V3
    assert rc.negotiate(["v9", rc.V2], rc.SPDY_PROTOCOLS) == rc.V2
    assert rc.negotiate(["v9"], rc.SPDY_PROTOCOLS) is None


def test_expected_spdy_streams_per_version():
    tty = rc.Options(stdin=True, stdout=True, stderr=True, tty=True)
    plain = rc.Options(stdin=False, stdout=True, stderr=True, tty=False)
    assert rc.expected_spdy_streams(rc.V4, tty) == {"error", "stdin", "stdout", "resize"}
    assert rc.expected_spdy_streams(rc.V2, tty) == {"error", "stdin", "stdout"}
    assert rc.expected_spdy_streams(rc.V1, plain) == {"error", "stdout", "stderr"}


def test_status_documents_as_client_go_reads_them():
    assert json.loads(rc.success_status()) == {"metadata": {}, "status": "Success"}
    failed = json.loads(rc.failure_status("boom", exit_code=3))
    assert failed["status"] == "Failure" and failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    internal = json.loads(rc.failure_status("no such container"))
    assert internal["reason"] == "InternalError" and "details" not in internal


class Feed:
    def __init__(self, chunks):
        self.chunks = list(chunks)

    async def read(self) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


def test_resizes_split_and_glued():
    async def collect():
        feed = Feed([b'{"Width":80,', b'"Height":24}{"Width":100,"Height":40}\n',
                     b'{"Width":0,"Height":0}', b'{"Width":1,"Height":2}'])
        return [size async for size in rc.resizes(feed)]

    assert asyncio.run(collect()) == [(80, 24), (100, 40), (1, 2)]
