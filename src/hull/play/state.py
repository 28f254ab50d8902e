"""The play state: SQLite under ``<root>/play/play.db``, shared by the CLI and the agent.

Writers are short transactions (WAL, busy timeout), so `hull play`, `hull
get` and the agent can all open it at once. The agent rebuilds everything
it needs from these rows (plus CRI) when it restarts.

Tables: ``pods`` (one per pod: spec, desired state, sandbox, phase),
``containers`` (one per pod container: CRI id, restart count, back-off,
readiness), ``objects`` (ConfigMaps, Secrets, claims, by the file that
made them), ``events`` (what ``describe`` shows).
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from dataclasses import dataclass

from hull import sqlitedb

SCHEMA = """
CREATE TABLE IF NOT EXISTS pods (
    key TEXT PRIMARY KEY, name TEXT, namespace TEXT, uid TEXT, file TEXT, doc TEXT,
    desired TEXT, phase TEXT, reason TEXT DEFAULT '', message TEXT DEFAULT '',
    sandbox_id TEXT DEFAULT '', pod_ip TEXT DEFAULT '', created REAL, started REAL DEFAULT 0,
    ready INTEGER DEFAULT 0, attempt INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS containers (
    pod TEXT, name TEXT, init INTEGER, position INTEGER, image TEXT,
    container_id TEXT DEFAULT '', previous_id TEXT DEFAULT '', restarts INTEGER DEFAULT 0,
    state TEXT DEFAULT 'waiting', reason TEXT DEFAULT 'ContainerCreating',
    exit_code INTEGER, started_at REAL DEFAULT 0, finished_at REAL DEFAULT 0,
    ready INTEGER DEFAULT 0, started INTEGER DEFAULT 0, backoff REAL DEFAULT 0,
    next_start REAL DEFAULT 0, last_state TEXT DEFAULT '',
    PRIMARY KEY (pod, name));
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT, key TEXT, file TEXT, data TEXT, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pod TEXT, time REAL, type TEXT, reason TEXT,
    object TEXT, message TEXT, count INTEGER DEFAULT 1);
"""


def db_path(root: str) -> str:
    return os.path.join(root, "play", "play.db")


class State:
    def __init__(self, root: str):
        self.root = root
        os.makedirs(os.path.join(root, "play"), exist_ok=True)
        self.db = sqlitedb.connect(db_path(root))
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def tx(self):
        return _Tx(self.db)

    # pods

    def pods(self, desired: str | None = None) -> list[sqlite3.Row]:
        if desired:
            return self.db.execute("SELECT * FROM pods WHERE desired=? ORDER BY created, key",
                                   (desired,)).fetchall()
        return self.db.execute("SELECT * FROM pods ORDER BY created, key").fetchall()

    def pod(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM pods WHERE key=?", (key,)).fetchone()

    def pods_of_file(self, file: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM pods WHERE file=?", (file,)).fetchall()

    def add_pod(self, key, name, namespace, uid, file, doc: dict, containers) -> None:
        with self.tx():
            self.db.execute("INSERT INTO pods (key, name, namespace, uid, file, doc, desired, "
                            "phase, reason, created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (key, name, namespace, uid, file, json.dumps(doc), "running",
                             "Pending", "ContainerCreating", time.time()))
            for init, position, cname, image in containers:
                self.db.execute("INSERT INTO containers (pod, name, init, position, image, reason)"
                                " VALUES (?,?,?,?,?,?)",
                                (key, cname, int(init), position, image,
                                 "PodInitializing" if not init else "ContainerCreating"))

    def update_pod(self, key: str, **fields) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE pods SET {sets} WHERE key=?", (*fields.values(), key))

    def delete_pod(self, key: str) -> None:
        with self.tx():
            self.db.execute("DELETE FROM containers WHERE pod=?", (key,))
            self.db.execute("DELETE FROM events WHERE pod=?", (key,))
            self.db.execute("DELETE FROM pods WHERE key=?", (key,))

    # containers

    def containers(self, pod: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM containers WHERE pod=? ORDER BY init DESC, "
                               "position", (pod,)).fetchall()

    def all_containers(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM containers").fetchall()

    def update_container(self, pod: str, name: str, **fields) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE containers SET {sets} WHERE pod=? AND name=?",
                        (*fields.values(), pod, name))

    # objects (ConfigMap, Secret, PersistentVolumeClaim)

    def put_object(self, kind: str, key: str, file: str, data: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO objects (kind, key, file, data) VALUES (?,?,?,?)",
                        (kind, key, file, json.dumps(data)))

    def object(self, kind: str, key: str) -> dict | None:
        row = self.db.execute("SELECT data FROM objects WHERE kind=? AND key=?",
                              (kind, key)).fetchone()
        return json.loads(row["data"]) if row else None

    def objects(self, kind: str, file: str | None = None) -> list[sqlite3.Row]:
        if file is None:
            return self.db.execute("SELECT * FROM objects WHERE kind=?", (kind,)).fetchall()
        return self.db.execute("SELECT * FROM objects WHERE kind=? AND file=?",
                               (kind, file)).fetchall()

    def namespace_objects(self, kind: str, namespace: str) -> dict[str, dict]:
        """name -> stored data of one kind's objects in ``namespace``."""
        found = {}
        for row in self.objects(kind):
            ns, name = row["key"].split("/", 1)
            if ns == namespace:
                found[name] = json.loads(row["data"])
        return found

    def config_objects(self, namespace: str):
        """(ConfigMaps, Secrets) of ``namespace`` as model objects, by name."""
        from hull.play.model import ConfigMap, Secret
        config_maps = {name: ConfigMap(name, namespace, decode_bytes(data))
                       for name, data in self.namespace_objects("ConfigMap", namespace).items()}
        secrets = {name: Secret(name, namespace, decode_bytes(data))
                   for name, data in self.namespace_objects("Secret", namespace).items()}
        return config_maps, secrets

    def delete_object(self, kind: str, key: str) -> None:
        self.db.execute("DELETE FROM objects WHERE kind=? AND key=?", (kind, key))

    # events

    def event(self, pod: str, kind: str, reason: str, obj: str, message: str) -> None:
        last = self.db.execute("SELECT id, reason, object, message FROM events WHERE pod=? "
                               "ORDER BY id DESC LIMIT 1", (pod,)).fetchone()
        if last and (last["reason"], last["object"], last["message"]) == (reason, obj, message):
            self.db.execute("UPDATE events SET count=count+1, time=? WHERE id=?",
                            (time.time(), last["id"]))
            return
        self.db.execute("INSERT INTO events (pod, time, type, reason, object, message) "
                        "VALUES (?,?,?,?,?,?)", (pod, time.time(), kind, reason, obj, message))

    def events(self, pod: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM events WHERE pod=? ORDER BY id", (pod,)).fetchall()


class _Tx:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, tb):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def encode_bytes(data: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in data.items()}


def decode_bytes(data: dict[str, str]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in data.items()}


@dataclass
class Paths:
    """Where play keeps files for a pod under ``--root``."""
    root: str

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.root, "play", "pods", uid)

    def volume_dir(self, uid: str, volume: str) -> str:
        return os.path.join(self.pod_dir(uid), "volumes", volume)

    def log_dir(self, namespace: str, name: str, uid: str) -> str:
        return os.path.join(self.root, "play", "logs", f"{namespace}_{name}_{uid}")

    def staging_dir(self, volume_id: str) -> str:
        return os.path.join(self.root, "play", "staging", volume_id)
