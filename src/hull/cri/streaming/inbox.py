"""Received bytes waiting for their reader, bounded so a fast peer cannot fill memory.

The connection's read loop waits for ``room()`` after delivering a chunk, so
a reader that falls behind stops the connection (TCP back-pressure), as
spdystream does, instead of buffering without limit.
"""

from __future__ import annotations

import asyncio
from collections import deque

LIMIT = 4 << 20


class Inbox:
    def __init__(self, limit: int = LIMIT):
        self.limit = limit
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._closed = False
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, data: bytes) -> None:
        if self._closed or not data:
            return
        self._chunks.append(data)
        self._size += len(data)
        self._readable.set()
        if self._size >= self.limit:
            self._room.clear()

    def close(self) -> None:
        """No more data: readers drain what is left, then get b""."""
        self._closed = True
        self._readable.set()
        self._room.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def get(self) -> bytes:
        while not self._chunks:
            if self._closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.popleft()
        self._size -= len(data)
        if self._size < self.limit:
            self._room.set()
        return data

    async def room(self) -> None:
        await self._room.wait()
