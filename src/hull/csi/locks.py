"""Per-key locks: calls for the same volume (or snapshot) name run one at a
time, calls for different keys run in parallel.

The spec lets a plugin answer ABORTED to a second call while one is in
flight; we wait instead (the second call then sees the first one's
result and answers idempotently) and give up with ABORTED only when the
first call holds the key past ``timeout``.
"""

from __future__ import annotations

import threading

from hull.csi.errors import Aborted


class KeyedLocks:
    def __init__(self, timeout: float = 60.0):
        self._timeout = timeout
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def _ref(self, key: str) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
            return lock

    def _unref(self, key: str) -> None:
        with self._guard:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def hold(self, *keys: str) -> _Holding:
        """Hold every key (taken in sorted order, so two callers cannot deadlock)."""
        if len(keys) != 1 or not keys[0]:
            keys = tuple(sorted(set(k for k in keys if k)))
        return _Holding(self, keys)

    def _take(self, key: str) -> None:
        lock = self._ref(key)
        if not lock.acquire(timeout=self._timeout):
            self._unref(key)
            raise Aborted(f"cannot start operation on {key}: another operation "
                          f"on it is still in flight")

    def _give(self, key: str) -> None:
        self._locks[key][0].release()
        self._unref(key)

    def busy(self) -> int:
        with self._guard:
            return len(self._locks)


class _Holding:
    """``with locks.hold(...)``: a plain class, as this runs on every call
    (a generator-based context manager costs twice the frames)."""

    __slots__ = ("_locks", "_keys", "_taken")

    def __init__(self, locks: KeyedLocks, keys):
        self._locks, self._keys, self._taken = locks, keys, 0

    def __enter__(self) -> None:
        try:
            for key in self._keys:
                self._locks._take(key)
                self._taken += 1
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc) -> None:
        while self._taken:
            self._taken -= 1
            self._locks._give(self._keys[self._taken])
