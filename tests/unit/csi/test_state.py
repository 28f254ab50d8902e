"""The SQLite state layer: round trips, uniqueness, idempotent removal,
transactions, persistence across reopen."""

from __future__ import annotations

import pytest

from hull import errors
from hull.csi.state import (Attachment, GroupSnapshot, Publication, Snapshot, Staging, State,
                            Volume)


@pytest.fixture
def state(tmp_path):
    s = State(str(tmp_path / "state.db"))
    yield s
    s.close()


def _volume(i: int = 1, **kw) -> Volume:
    return Volume(id=f"vol-{i}", name=f"name-{i}", backend="dir", capacity=i << 20, **kw)


def test_volume_round_trip_and_lookup_by_name(state):
    v = _volume(parameters={"backend": "dir"}, mutable={"iops": "1"}, source_kind="snapshot",
                source_id="snap-1", block=True, fs_type="xfs")
    state.add_volume(v)
    assert state.volume("vol-1") == v
    assert state.volume_by_name("name-1") == v
    assert state.volume("vol-2") is None


def test_duplicate_id_or_name_is_already_exists(state):
    state.add_volume(_volume(1))
    with pytest.raises(errors.AlreadyExists):
        state.add_volume(Volume(id="vol-1", name="other", backend="dir", capacity=1))
    with pytest.raises(errors.AlreadyExists):
        state.add_volume(Volume(id="vol-x", name="name-1", backend="dir", capacity=1))
    assert [v.id for v in state.volumes()] == ["vol-1"]


def test_listing_keeps_creation_order(state):
    for i in (3, 1, 2):
        state.add_volume(_volume(i))
    assert [v.id for v in state.volumes()] == ["vol-3", "vol-1", "vol-2"]


def test_removal_is_idempotent_and_drops_attachments(state):
    state.add_volume(_volume())
    state.attach(Attachment("vol-1", "node", False))
    state.remove_volume("vol-1")
    state.remove_volume("vol-1")
    assert state.volume("vol-1") is None and state.attachments() == []


def test_snapshot_filters(state):
    for i, source in enumerate(("vol-1", "vol-1", "vol-2")):
        state.add_snapshot(Snapshot(id=f"snap-{i}", name=f"s{i}", source_volume_id=source,
                                    backend="dir", size=1))
    assert [s.id for s in state.snapshots(source_volume_id="vol-1")] == ["snap-0", "snap-1"]
    assert [s.id for s in state.snapshots(snapshot_id="snap-2")] == ["snap-2"]
    assert state.snapshots(source_volume_id="vol-9") == []


def test_group_is_all_or_nothing(state):
    state.add_snapshot(Snapshot(id="snap-taken", name="taken", source_volume_id="v",
                                backend="dir", size=1))
    members = [Snapshot(id="snap-a", name="a", source_volume_id="v1", backend="dir", size=1),
               Snapshot(id="snap-b", name="taken", source_volume_id="v2", backend="dir", size=1)]
    with pytest.raises(errors.AlreadyExists):
        state.add_group(GroupSnapshot(id="g", name="g", source_volume_ids=["v1", "v2"]), members)
    assert state.group("g") is None and state.snapshot("snap-a") is None
    members[1].name = "b"
    state.add_group(GroupSnapshot(id="g", name="g", source_volume_ids=["v1", "v2"]), members)
    assert {s.id for s in state.snapshots(group_id="g")} == {"snap-a", "snap-b"}
    state.remove_group("g")
    assert state.snapshots(group_id="g") == [] and state.group("g") is None


def test_attachments_by_node_and_detach_all(state):
    state.attach(Attachment("vol-1", "n1", False))
    state.attach(Attachment("vol-2", "n1", True))
    state.attach(Attachment("vol-1", "n2", False))
    assert len(state.attachments(node_id="n1")) == 2
    state.detach("vol-1")
    assert [a.volume_id for a in state.attachments()] == ["vol-2"]


def test_node_records_survive_reopen(tmp_path):
    path = str(tmp_path / "state.db")
    s = State(path)
    s.record_staging(Staging("vol-1", "/stage", "/dev/loop7", False, "ext4", ["noatime"]))
    s.record_publication(Publication("vol-1", "/target", "/stage", False, True, ["noatime"]))
    s.close()
    s = State(path)
    assert s.staging("/stage").device == "/dev/loop7"
    assert s.publication("/target").readonly is True
    s.set_staging_device("/stage", "")
    s.unrecord_publication("/target")
    s.unrecord_publication("/target")
    assert s.staging("/stage").device == "" and s.publications() == []
    s.close()


def test_version_1_database_loses_autoincrement_and_keeps_rows_and_order(tmp_path):
    import sqlite3

    from hull.csi import state as state_module
    path = str(tmp_path / "state.db")
    db = sqlite3.connect(path)
    db.executescript(state_module.SCHEMA.replace("seq INTEGER PRIMARY KEY,",
                                                 "seq INTEGER PRIMARY KEY AUTOINCREMENT,"))
    for seq, i in ((5, 3), (9, 1)):
        db.execute("INSERT INTO volumes (seq, id, name, backend, capacity, created)"
                   " VALUES (?, ?, ?, 'dir', 1, 0)", (seq, f"vol-{i}", f"name-{i}"))
    db.execute("INSERT INTO snapshots (id, name, source_volume_id, backend, size, created)"
               " VALUES ('snap-1', 's1', 'vol-1', 'dir', 1, 0)")
    db.commit()
    db.close()
    s = State(path)
    s.add_volume(_volume(2))
    assert [v.id for v in s.volumes()] == ["vol-3", "vol-1", "vol-2"]
    assert s.snapshot("snap-1").source_volume_id == "vol-1"
    tables = s._query("SELECT sql FROM sqlite_master WHERE type = 'table'")
    assert not any("AUTOINCREMENT" in row["sql"] for row in tables)
    assert s._query("PRAGMA user_version")[0][0] == state_module.SCHEMA_VERSION
    s.close()
    State(path).close()  # opening a current database again changes nothing
