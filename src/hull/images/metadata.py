"""Image metadata in SQLite: images, names, blobs, snapshots, references.

Every change is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), and
files are ordered around it so the database never points at a missing
file: blobs and snapshot dirs are written before the rows that name them
and deleted after. Files no row names (a crash in between) are what GC
sweeps. WAL mode lets readers run beside a writer; each thread has its own
connection.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path

from hull import sqlitedb

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,               -- sha256 of the config
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    index_digest TEXT,
    size INTEGER NOT NULL,             -- config + compressed layers, like docker's SIZE
    created TEXT,                      -- from the config
    chain_ids TEXT NOT NULL,           -- JSON list, bottom layer first
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS names (
    name TEXT PRIMARY KEY,             -- docker.io/library/busybox:latest or repo@sha256:...
    kind TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    manifest_digest TEXT
);
CREATE INDEX IF NOT EXISTS names_image ON names(image_id);
CREATE TABLE IF NOT EXISTS image_blobs (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY (image_id, digest)
);
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS snapshots (
    key TEXT PRIMARY KEY,              -- chain ID, or the container's key
    id INTEGER UNIQUE NOT NULL,        -- directory name
    kind TEXT NOT NULL CHECK (kind IN ('pending', 'committed', 'active', 'view')),
    parent TEXT,                       -- key of the parent snapshot
    diff_id TEXT,
    size INTEGER NOT NULL DEFAULT 0,   -- uncompressed bytes of the layer
    inodes INTEGER NOT NULL DEFAULT 0,
    image_id TEXT,                     -- active/view: the image it was prepared from
    created REAL NOT NULL,
    unsynced_boot TEXT                 -- committed but maybe only in the page cache of this boot
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Metadata:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        conn = self._conn()
        conn.executescript(SCHEMA)
        self._migrate(conn)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    # columns added after the first schema: (table, column, declaration)
    ADDED_COLUMNS = (("snapshots", "inodes", "INTEGER NOT NULL DEFAULT 0"),
                     ("snapshots", "unsynced_boot", "TEXT"))

    def _migrate(self, conn: sqlite3.Connection) -> None:
        for table, column, declaration in self.ADDED_COLUMNS:
            present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlitedb.connect(self.path, timeout=60, synchronous="FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextlib.contextmanager
    def transaction(self):
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, args).fetchall()

    # -- snapshots ---------------------------------------------------------------

    def next_snapshot_id(self, db: sqlite3.Connection) -> int:
        db.execute("INSERT INTO counters VALUES ('snapshot', 1) "
                   "ON CONFLICT(name) DO UPDATE SET value = value + 1")
        return db.execute("SELECT value FROM counters WHERE name = 'snapshot'").fetchone()[0]

    def snapshot(self, key: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM snapshots WHERE key = ?", (key,))
        return rows[0] if rows else None

    def reserve_snapshot(self, key: str, parent: str | None, diff_id: str | None,
                         kind: str = "pending", image_id: str | None = None) -> int:
        with self.transaction() as db:
            snapshot_id = self.next_snapshot_id(db)
            db.execute("INSERT INTO snapshots (key, id, kind, parent, diff_id, image_id, created)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (key, snapshot_id, kind, parent, diff_id, image_id, time.time()))
        return snapshot_id

    def commit_snapshot(self, key: str, size: int, inodes: int = 0,
                        unsynced_boot: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE snapshots SET kind = 'committed', size = ?, inodes = ?, "
                       "unsynced_boot = ? WHERE key = ?", (size, inodes, unsynced_boot, key))

    def unsynced_snapshots(self) -> list[sqlite3.Row]:
        return self.query("SELECT key, id, unsynced_boot FROM snapshots "
                          "WHERE unsynced_boot IS NOT NULL")

    def delete_stale_snapshot(self, key: str, snapshot_id: int, boot: str) -> bool:
        """Delete the row only if it is still that unsynced one (no other process redid it)."""
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM snapshots WHERE key = ? AND id = ? "
                                "AND unsynced_boot = ?", (key, snapshot_id, boot))
            return cursor.rowcount == 1

    def mark_synced(self, boot_id: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE snapshots SET unsynced_boot = NULL WHERE unsynced_boot = ?",
                       (boot_id,))

    def delete_snapshot(self, key: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM snapshots WHERE key = ?", (key,))

    # -- images ------------------------------------------------------------------

    def put_image(self, *, image_id: str, manifest_digest: str, manifest_media_type: str,
                  index_digest: str | None, size: int, created: str | None,
                  chain_ids: list[str], blobs: dict[str, tuple[int, str]],
                  names: list[tuple[str, str]]) -> None:
        """One transaction: image row, its blobs, and its names (moved from other images)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                " manifest_digest = excluded.manifest_digest,"
                " manifest_media_type = excluded.manifest_media_type,"
                " index_digest = excluded.index_digest, size = excluded.size",
                (image_id, manifest_digest, manifest_media_type, index_digest, size, created,
                 json.dumps(chain_ids), time.time()))
            for digest, (blob_size, media_type) in blobs.items():
                db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)",
                           (digest, blob_size, media_type))
                db.execute("INSERT OR IGNORE INTO image_blobs VALUES (?, ?)", (image_id, digest))
            for name, kind in names:
                self._set_name(db, name, kind, image_id, manifest_digest)

    def _set_name(self, db, name: str, kind: str, image_id: str, manifest_digest: str | None):
        previous = db.execute("SELECT image_id FROM names WHERE name = ?", (name,)).fetchone()
        db.execute("INSERT OR REPLACE INTO names VALUES (?, ?, ?, ?)",
                   (name, kind, image_id, manifest_digest))
        if previous and previous[0] != image_id:
            self._drop_if_nameless(db, previous[0])

    def _drop_if_nameless(self, db, image_id: str) -> None:
        """A tag moved away: like docker, the old image stays as a dangling '<none>'
        image until ``hull image prune``; nothing to do here."""

    def tag(self, image_id: str, name: str) -> None:
        with self.transaction() as db:
            self._set_name(db, name, "tag", image_id, None)

    def untag(self, name: str) -> str | None:
        """Remove one name; returns the image id it named (None if unknown)."""
        with self.transaction() as db:
            row = db.execute("SELECT image_id FROM names WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM names WHERE name = ?", (name,))
            left = db.execute("SELECT COUNT(*) FROM names WHERE image_id = ?", (row[0],)).fetchone()
            if left[0] == 0:
                db.execute("DELETE FROM images WHERE id = ?", (row[0],))
            return row[0]

    def delete_image(self, image_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM names WHERE image_id = ?", (image_id,))
            db.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def images(self) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM images ORDER BY added DESC")

    def image(self, image_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM images WHERE id = ?", (image_id,))
        return rows[0] if rows else None

    def names_of(self, image_id: str) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM names WHERE image_id = ? ORDER BY name", (image_id,))

    def image_by_name(self, name: str) -> str | None:
        rows = self.query("SELECT image_id FROM names WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def images_by_prefix(self, prefix: str) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM images WHERE id LIKE ?", (prefix + "%",))]

    def blob(self, digest: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM blobs WHERE digest = ?", (digest,))
        return rows[0] if rows else None

    def add_blob(self, digest: str, size: int, media_type: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)", (digest, size, media_type))
