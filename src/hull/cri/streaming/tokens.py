"""Single-use, expiring tokens for streaming requests (kubelet's request cache).

Exec, Attach and PortForward RPCs store their request here and hand back a
URL holding the token; the client redeems it once, within a minute.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import OrderedDict

from hull.errors import ResourceExhausted

TOKEN_TTL = 60.0
CAPACITY = 1000
TOKEN_BYTES = 8


class TokenCache:
    def __init__(self, ttl: float = TOKEN_TTL, capacity: int = CAPACITY, clock=time.monotonic):
        self.ttl = ttl
        self.capacity = capacity
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()   # RPC worker threads insert, the server consumes

    def insert(self, request: object) -> str:
        with self._lock:
            self._evict_expired()
            if len(self._entries) >= self.capacity:
                raise ResourceExhausted(f"cannot issue a streaming token: {self.capacity} "
                                        f"requests are already waiting")
            token = _new_token()
            while token in self._entries:
                token = _new_token()
            self._entries[token] = (self.clock() + self.ttl, request)
            return token

    def consume(self, token: str) -> object | None:
        """The request for ``token``, once; None when unknown, used or expired."""
        with self._lock:
            entry = self._entries.pop(token, None)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _evict_expired(self) -> None:
        now = self.clock()
        while self._entries:
            token, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break   # insertion order is expiry order: the rest are younger
            del self._entries[token]


def _new_token() -> str:
    return base64.urlsafe_b64encode(os.urandom(TOKEN_BYTES)).rstrip(b"=").decode()
