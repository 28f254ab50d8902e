"""Sandboxes and containers in SQLite under --root.

Every change is one transaction (WAL journal), so a SIGKILL at any moment
leaves either the old or the new row. Unique name columns enforce the
CRI's name rules; the protobuf configs are stored as their wire bytes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading

from hull import sqlitedb
from hull._generated import api_pb2 as api
from hull.cri.model import Container, ContainerState, Sandbox, SandboxState
from hull.errors import AlreadyExists, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandboxes (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
    created_at INTEGER NOT NULL, body TEXT NOT NULL, config BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL, name TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL,
    config BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS containers_by_sandbox ON containers(sandbox_id);
"""

SANDBOX_BODY = ("runtime_handler", "namespaces", "ips", "cgroup_parent", "infra_id", "extra")
CONTAINER_BODY = ("image_id", "image_ref", "image_name", "runtime_handler", "started_at",
                  "finished_at", "exit_code", "reason", "message", "pid", "log_path", "extra")


class Store:
    def __init__(self, root: str):
        os.makedirs(root, exist_ok=True)
        self.path = os.path.join(root, "cri.db")
        self._db = sqlitedb.connect(self.path, row_factory=None)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # sandboxes

    def add_sandbox(self, sb: Sandbox) -> None:
        try:
            with self._lock, self._db:
                self._db.execute("INSERT INTO sandboxes VALUES (?,?,?,?,?,?)",
                                 (sb.id, sb.name, sb.state.value, sb.created_at,
                                  _body(sb, SANDBOX_BODY), sb.config.SerializeToString()))
        except sqlite3.IntegrityError as e:
            raise AlreadyExists(f"cannot create pod sandbox {sb.name}: the name is reserved "
                                f"by sandbox {self._sandbox_id_by_name(sb.name)}") from e

    def save_sandbox(self, sb: Sandbox) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE sandboxes SET state=?, body=? WHERE id=?",
                             (sb.state.value, _body(sb, SANDBOX_BODY), sb.id))

    def delete_sandbox(self, sandbox_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM sandboxes WHERE id=?", (sandbox_id,))

    def sandboxes(self) -> list[Sandbox]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, state, created_at, body, config "
                                    "FROM sandboxes ORDER BY created_at").fetchall()
        return [_sandbox(row) for row in rows]

    def sandbox(self, sandbox_id: str) -> Sandbox | None:
        with self._lock:
            row = self._db.execute("SELECT id, name, state, created_at, body, config "
                                   "FROM sandboxes WHERE id=?", (sandbox_id,)).fetchone()
        return _sandbox(row) if row else None

    def _sandbox_id_by_name(self, name: str) -> str:
        row = self._db.execute("SELECT id FROM sandboxes WHERE name=?", (name,)).fetchone()
        return row[0] if row else "?"

    # containers

    def add_container(self, c: Container) -> None:
        try:
            with self._lock, self._db:
                self._db.execute("INSERT INTO containers VALUES (?,?,?,?,?,?,?)",
                                 (c.id, c.sandbox_id, c.name, c.state.value, c.created_at,
                                  _container_body(c), c.config.SerializeToString()))
        except sqlite3.IntegrityError as e:
            row = self._db.execute("SELECT id FROM containers WHERE name=?", (c.name,)).fetchone()
            raise AlreadyExists(f"cannot create container {c.name}: the name is reserved by "
                                f"container {row[0] if row else '?'}") from e

    def save_container(self, c: Container) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE containers SET state=?, body=? WHERE id=?",
                             (c.state.value, _container_body(c), c.id))

    def delete_container(self, container_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM containers WHERE id=?", (container_id,))

    def containers(self, sandbox_id: str | None = None) -> list[Container]:
        query = "SELECT id, sandbox_id, name, state, created_at, body, config FROM containers"
        args: tuple = ()
        if sandbox_id is not None:
            query, args = query + " WHERE sandbox_id=?", (sandbox_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at", args).fetchall()
        return [_container(row) for row in rows]

    def container(self, container_id: str) -> Container | None:
        with self._lock:
            row = self._db.execute("SELECT id, sandbox_id, name, state, created_at, body, config "
                                   "FROM containers WHERE id=?", (container_id,)).fetchone()
        return _container(row) if row else None


def _body(obj, names) -> str:
    return json.dumps({n: getattr(obj, n) for n in names})


def _container_body(c: Container) -> str:
    body = {n: getattr(c, n) for n in CONTAINER_BODY}
    body["resources"] = c.resources.hex()
    return json.dumps(body)


def _sandbox(row) -> Sandbox:
    sandbox_id, name, state, created_at, body, config = row
    sb = Sandbox(id=sandbox_id, name=name, config=api.PodSandboxConfig.FromString(config),
                 state=SandboxState(state), created_at=created_at)
    for key, value in json.loads(body).items():
        setattr(sb, key, value)
    return sb


def _container(row) -> Container:
    container_id, sandbox_id, name, state, created_at, body, config = row
    c = Container(id=container_id, sandbox_id=sandbox_id, name=name,
                  config=api.ContainerConfig.FromString(config),
                  state=ContainerState(state), created_at=created_at)
    fields = json.loads(body)
    c.resources = bytes.fromhex(fields.pop("resources", ""))
    for key, value in fields.items():
        setattr(c, key, value)
    return c


def require_sandbox(store: Store, sandbox_id: str, verb: str) -> Sandbox:
    sb = store.sandbox(sandbox_id) if sandbox_id else None
    if sb is None:
        raise NotFound(f"cannot {verb} pod sandbox {sandbox_id!r}: not found")
    return sb


def require_container(store: Store, container_id: str, verb: str) -> Container:
    c = store.container(container_id) if container_id else None
    if c is None:
        raise NotFound(f"cannot {verb} container {container_id!r}: not found")
    return c
