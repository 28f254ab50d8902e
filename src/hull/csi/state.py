"""The driver's metadata: volumes, snapshots, attachments, in SQLite.

One database file, ``<root>/state.db``, in WAL mode: every change is one
transaction, so a killed driver restarts with either all or none of a
call's bookkeeping. ``synchronous=NORMAL`` keeps commits off the fsync
path; WAL still survives a crash of the process (what a restart must
handle), only a power loss can drop the last commits.

Idempotency contract (the handlers rely on it):

- ``add_*`` raises AlreadyExists on a duplicate id or name; callers look
  up by name first and decide whether the existing row is compatible.
- ``remove_*`` and ``unrecord_*`` succeed when the row is already gone.
- Lookups return None for unknown ids; handlers turn that into NotFound.

The state layer knows nothing of gRPC: it raises hull.errors categories.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from hull import errors, sqlitedb

_encode_sorted = json.JSONEncoder(sort_keys=True).encode  # json.dumps builds one per call


def _dump_sorted(value: dict) -> str:
    return _encode_sorted(value) if value else "{}"  # most volumes: no mutable parameters

# seq orders listings by creation. Plain rowids do that (SQLite gives a new
# row max(seq) + 1); AUTOINCREMENT would also write its sqlite_sequence page
# on every insert. Version 1 databases had it: _migrate rebuilds their tables.
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    backend TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    fs_type TEXT NOT NULL DEFAULT '',
    block INTEGER NOT NULL DEFAULT 0,
    parameters TEXT NOT NULL DEFAULT '{}',
    mutable TEXT NOT NULL DEFAULT '{}',
    source_kind TEXT NOT NULL DEFAULT '',
    source_id TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    source_volume_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    size INTEGER NOT NULL,
    group_id TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS group_snapshots (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    source_volume_ids TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attachments (
    volume_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    readonly INTEGER NOT NULL,
    PRIMARY KEY (volume_id, node_id)
);
CREATE TABLE IF NOT EXISTS stagings (
    volume_id TEXT NOT NULL,
    path TEXT NOT NULL PRIMARY KEY,
    device TEXT NOT NULL DEFAULT '',
    block INTEGER NOT NULL,
    fs_type TEXT NOT NULL DEFAULT '',
    mount_flags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS publications (
    volume_id TEXT NOT NULL,
    path TEXT NOT NULL PRIMARY KEY,
    staging_path TEXT NOT NULL,
    block INTEGER NOT NULL,
    readonly INTEGER NOT NULL,
    mount_flags TEXT NOT NULL DEFAULT '[]'
);
"""


@dataclass
class Volume:
    id: str
    name: str
    backend: str
    capacity: int
    fs_type: str = ""
    block: bool = False
    parameters: dict = field(default_factory=dict)
    mutable: dict = field(default_factory=dict)
    source_kind: str = ""  # "", "snapshot" or "volume"
    source_id: str = ""
    created: float = 0.0


@dataclass
class Snapshot:
    id: str
    name: str
    source_volume_id: str
    backend: str
    size: int
    group_id: str = ""
    created: float = 0.0


@dataclass
class GroupSnapshot:
    id: str
    name: str
    source_volume_ids: list
    created: float = 0.0


@dataclass
class Attachment:
    volume_id: str
    node_id: str
    readonly: bool


@dataclass
class Staging:
    volume_id: str
    path: str
    device: str
    block: bool
    fs_type: str = ""
    mount_flags: list = field(default_factory=list)


@dataclass
class Publication:
    volume_id: str
    path: str
    staging_path: str
    block: bool
    readonly: bool
    mount_flags: list = field(default_factory=list)


def _volume(row) -> Volume:
    return Volume(id=row["id"], name=row["name"], backend=row["backend"],
                  capacity=row["capacity"], fs_type=row["fs_type"], block=bool(row["block"]),
                  parameters=json.loads(row["parameters"]), mutable=json.loads(row["mutable"]),
                  source_kind=row["source_kind"], source_id=row["source_id"],
                  created=row["created"])


def _snapshot(row) -> Snapshot:
    return Snapshot(id=row["id"], name=row["name"], source_volume_id=row["source_volume_id"],
                    backend=row["backend"], size=row["size"], group_id=row["group_id"],
                    created=row["created"])


def _group(row) -> GroupSnapshot:
    return GroupSnapshot(id=row["id"], name=row["name"],
                         source_volume_ids=json.loads(row["source_volume_ids"]),
                         created=row["created"])


def _staging(row) -> Staging:
    return Staging(volume_id=row["volume_id"], path=row["path"], device=row["device"],
                   block=bool(row["block"]), fs_type=row["fs_type"],
                   mount_flags=json.loads(row["mount_flags"]))


def _publication(row) -> Publication:
    return Publication(volume_id=row["volume_id"], path=row["path"],
                       staging_path=row["staging_path"], block=bool(row["block"]),
                       readonly=bool(row["readonly"]), mount_flags=json.loads(row["mount_flags"]))


class State:
    """Thread-safe store; one connection guarded by a lock (calls are short)."""

    def __init__(self, path: str):
        self._lock = threading.Lock()
        self._db = sqlitedb.connect(path, timeout=5.0)
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring an older database to SCHEMA_VERSION in one transaction."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._drop_autoincrement()
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _drop_autoincrement(self) -> None:
        """Version 1 -> 2: rebuild the AUTOINCREMENT tables, keeping every seq."""
        old = [row["name"] for row in self._db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if "AUTOINCREMENT" in row["sql"]]
        for table in old:
            self._db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
        for statement in SCHEMA.split(";"):  # executescript would commit first
            self._db.execute(statement)
        for table in old:
            self._db.execute(f"INSERT INTO {table} SELECT * FROM {table}_v1")
            self._db.execute(f"DROP TABLE {table}_v1")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, args=()) -> list:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, what: str, statements: list[tuple[str, tuple]]) -> None:
        """Run statements as one transaction; a UNIQUE clash is AlreadyExists.

        A single statement runs in autocommit mode, which SQLite makes a
        transaction of its own: as atomic as BEGIN ... COMMIT, with two
        fewer round trips into the library.
        """
        with self._lock:
            try:
                if len(statements) == 1:
                    self._db.execute(*statements[0])
                    return
                self._db.execute("BEGIN IMMEDIATE")
                for sql, args in statements:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise errors.AlreadyExists(f"cannot record {what}: {e}") from e
            except sqlite3.Error as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise errors.Internal(f"cannot record {what}: {e}") from e

    # ---- volumes ----

    def add_volume(self, v: Volume) -> None:
        v.created = v.created or time.time()
        self._write(f"volume {v.id}", [(
            "INSERT INTO volumes (id, name, backend, capacity, fs_type, block, parameters,"
            " mutable, source_kind, source_id, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (v.id, v.name, v.backend, v.capacity, v.fs_type, int(v.block),
             _dump_sorted(v.parameters), _dump_sorted(v.mutable),
             v.source_kind, v.source_id, v.created))])

    def volume(self, volume_id: str) -> Volume | None:
        rows = self._query("SELECT * FROM volumes WHERE id = ?", (volume_id,))
        return _volume(rows[0]) if rows else None

    def volume_by_name(self, name: str) -> Volume | None:
        rows = self._query("SELECT * FROM volumes WHERE name = ?", (name,))
        return _volume(rows[0]) if rows else None

    def volumes(self) -> list[Volume]:
        return [_volume(r) for r in self._query("SELECT * FROM volumes ORDER BY seq")]

    def set_capacity(self, volume_id: str, capacity: int) -> None:
        self._write(f"capacity of volume {volume_id}", [
            ("UPDATE volumes SET capacity = ? WHERE id = ?", (capacity, volume_id))])

    def set_mutable(self, volume_id: str, mutable: dict) -> None:
        self._write(f"parameters of volume {volume_id}", [
            ("UPDATE volumes SET mutable = ? WHERE id = ?",
             (_dump_sorted(mutable), volume_id))])

    def set_fs_type(self, volume_id: str, fs_type: str) -> None:
        self._write(f"fs type of volume {volume_id}", [
            ("UPDATE volumes SET fs_type = ? WHERE id = ?", (fs_type, volume_id))])

    def remove_volume(self, volume_id: str) -> None:
        self._write(f"removal of volume {volume_id}", [
            ("DELETE FROM attachments WHERE volume_id = ?", (volume_id,)),
            ("DELETE FROM volumes WHERE id = ?", (volume_id,))])

    # ---- snapshots ----

    def add_snapshot(self, s: Snapshot) -> None:
        s.created = s.created or time.time()
        self._write(f"snapshot {s.id}", [(
            "INSERT INTO snapshots (id, name, source_volume_id, backend, size, group_id, created)"
            " VALUES (?,?,?,?,?,?,?)",
            (s.id, s.name, s.source_volume_id, s.backend, s.size, s.group_id, s.created))])

    def snapshot(self, snapshot_id: str) -> Snapshot | None:
        rows = self._query("SELECT * FROM snapshots WHERE id = ?", (snapshot_id,))
        return _snapshot(rows[0]) if rows else None

    def snapshot_by_name(self, name: str) -> Snapshot | None:
        rows = self._query("SELECT * FROM snapshots WHERE name = ?", (name,))
        return _snapshot(rows[0]) if rows else None

    def snapshots(self, source_volume_id: str = "", snapshot_id: str = "",
                  group_id: str = "") -> list[Snapshot]:
        sql, args = "SELECT * FROM snapshots WHERE 1=1", []
        for column, value in (("source_volume_id", source_volume_id), ("id", snapshot_id),
                              ("group_id", group_id)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        return [_snapshot(r) for r in self._query(sql + " ORDER BY seq", tuple(args))]

    def remove_snapshot(self, snapshot_id: str) -> None:
        self._write(f"removal of snapshot {snapshot_id}", [
            ("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))])

    # ---- group snapshots ----

    def add_group(self, g: GroupSnapshot, members: list[Snapshot]) -> None:
        g.created = g.created or time.time()
        statements = [(
            "INSERT INTO group_snapshots (id, name, source_volume_ids, created) VALUES (?,?,?,?)",
            (g.id, g.name, json.dumps(g.source_volume_ids), g.created))]
        for s in members:
            s.created = s.created or g.created
            statements.append((
                "INSERT INTO snapshots (id, name, source_volume_id, backend, size, group_id,"
                " created) VALUES (?,?,?,?,?,?,?)",
                (s.id, s.name, s.source_volume_id, s.backend, s.size, g.id, s.created)))
        self._write(f"group snapshot {g.id}", statements)

    def group(self, group_id: str) -> GroupSnapshot | None:
        rows = self._query("SELECT * FROM group_snapshots WHERE id = ?", (group_id,))
        return _group(rows[0]) if rows else None

    def group_by_name(self, name: str) -> GroupSnapshot | None:
        rows = self._query("SELECT * FROM group_snapshots WHERE name = ?", (name,))
        return _group(rows[0]) if rows else None

    def remove_group(self, group_id: str) -> None:
        self._write(f"removal of group snapshot {group_id}", [
            ("DELETE FROM snapshots WHERE group_id = ?", (group_id,)),
            ("DELETE FROM group_snapshots WHERE id = ?", (group_id,))])

    # ---- controller attachments ----

    def attach(self, a: Attachment) -> None:
        self._write(f"attachment of volume {a.volume_id} to node {a.node_id}", [(
            "INSERT INTO attachments (volume_id, node_id, readonly) VALUES (?,?,?)",
            (a.volume_id, a.node_id, int(a.readonly)))])

    def attachments(self, volume_id: str = "", node_id: str = "") -> list[Attachment]:
        sql, args = "SELECT * FROM attachments WHERE 1=1", []
        if volume_id:
            sql, args = sql + " AND volume_id = ?", args + [volume_id]
        if node_id:
            sql, args = sql + " AND node_id = ?", args + [node_id]
        return [Attachment(r["volume_id"], r["node_id"], bool(r["readonly"]))
                for r in self._query(sql, tuple(args))]

    def detach(self, volume_id: str, node_id: str = "") -> None:
        if node_id:
            sql, args = "DELETE FROM attachments WHERE volume_id = ? AND node_id = ?", (
                volume_id, node_id)
        else:
            sql, args = "DELETE FROM attachments WHERE volume_id = ?", (volume_id,)
        self._write(f"detachment of volume {volume_id}", [(sql, args)])

    # ---- node stagings and publications ----

    def record_staging(self, s: Staging) -> None:
        self._write(f"staging of volume {s.volume_id}", [(
            "INSERT INTO stagings (volume_id, path, device, block, fs_type, mount_flags)"
            " VALUES (?,?,?,?,?,?)",
            (s.volume_id, s.path, s.device, int(s.block), s.fs_type, json.dumps(s.mount_flags)))])

    def set_staging_device(self, path: str, device: str) -> None:
        self._write(f"staging at {path}", [
            ("UPDATE stagings SET device = ? WHERE path = ?", (device, path))])

    def staging(self, path: str) -> Staging | None:
        rows = self._query("SELECT * FROM stagings WHERE path = ?", (path,))
        return _staging(rows[0]) if rows else None

    def stagings(self, volume_id: str = "") -> list[Staging]:
        if volume_id:
            rows = self._query("SELECT * FROM stagings WHERE volume_id = ?", (volume_id,))
        else:
            rows = self._query("SELECT * FROM stagings")
        return [_staging(r) for r in rows]

    def unrecord_staging(self, path: str) -> None:
        self._write(f"unstaging at {path}", [("DELETE FROM stagings WHERE path = ?", (path,))])

    def record_publication(self, p: Publication) -> None:
        self._write(f"publication of volume {p.volume_id}", [(
            "INSERT INTO publications (volume_id, path, staging_path, block, readonly,"
            " mount_flags) VALUES (?,?,?,?,?,?)",
            (p.volume_id, p.path, p.staging_path, int(p.block), int(p.readonly),
             json.dumps(p.mount_flags)))])

    def publication(self, path: str) -> Publication | None:
        rows = self._query("SELECT * FROM publications WHERE path = ?", (path,))
        return _publication(rows[0]) if rows else None

    def publications(self, volume_id: str = "") -> list[Publication]:
        if volume_id:
            rows = self._query("SELECT * FROM publications WHERE volume_id = ?", (volume_id,))
        else:
            rows = self._query("SELECT * FROM publications")
        return [_publication(r) for r in rows]

    def unrecord_publication(self, path: str) -> None:
        self._write(f"unpublication at {path}", [
            ("DELETE FROM publications WHERE path = ?", (path,))])
