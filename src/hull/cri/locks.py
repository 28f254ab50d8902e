"""One asyncio lock per pod and per container, made on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: dict[str, int] = defaultdict(int)

    @contextlib.asynccontextmanager
    async def hold(self, key: str):
        self._users[key] += 1
        lock = self._locks[key]
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                self._locks.pop(key, None)
