"""Opening hull's SQLite databases: autocommit, WAL, one place for the race.

Every store (images, CRI, CSI, play) keeps its state in one SQLite file
that several processes may open at once (two ``hull pull``s, ``hull
volume`` beside the driver). Switching a new database to WAL needs an
exclusive lock, and SQLite answers "database is locked" at once there
instead of calling the busy handler: two first opens racing would fail
one of them. So the switch is retried until ``timeout``.
"""

from __future__ import annotations

import sqlite3
import time


def connect(path: str, *, timeout: float = 30.0, synchronous: str = "NORMAL",
            row_factory=sqlite3.Row) -> sqlite3.Connection:
    """An autocommit connection (``BEGIN`` is explicit) in WAL mode, usable from any thread."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = row_factory
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                conn.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn
