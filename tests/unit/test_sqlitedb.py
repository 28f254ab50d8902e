"""Opening a store's database while another process holds it: the WAL switch waits."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hull
from hull import sqlitedb


OPEN = """
import sys, time
sys.path.insert(0, {src!r})
from hull import sqlitedb
while time.time() < {at}:
    pass
conn = sqlitedb.connect({path!r})
conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
print(conn.execute("PRAGMA journal_mode").fetchone()[0])
"""


def test_two_processes_opening_a_new_database_at_once(tmp_path):
    """Switching a new database to WAL takes an exclusive lock that SQLite's busy
    handler does not wait for: with plain pragmas, one of two processes opening
    at the same moment failed "database is locked" in over half the rounds."""
    src = str(Path(hull.__file__).parent.parent)
    for round_ in range(10):
        path = str(tmp_path / f"r{round_}.db")
        code = OPEN.format(src=src, at=time.time() + 0.3, path=path)
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        assert [out.strip() for out, _ in results] == ["wal", "wal"]


def test_connection_is_autocommit_wal_with_rows(tmp_path):
    conn = sqlitedb.connect(str(tmp_path / "s.db"))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1   # NORMAL
    assert conn.isolation_level is None and conn.row_factory is sqlite3.Row
    conn.close()


def test_gives_up_after_the_timeout(tmp_path):
    path = str(tmp_path / "s.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE t (x)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlitedb.connect(path, timeout=0.2)
    holder.execute("ROLLBACK")
    holder.close()
