"""State on disk and the status rules (no root: a temp dir as --root)."""

from __future__ import annotations

import os
import re

import pytest

from hull import errors
from hull.oci import state as statelib
from hull.oci.state import State, Store
from hull.oci.status import Status


def test_status_rules():
    table = {
        Status.CREATED: dict(start=True, kill=True, delete=True, pause=True, resume=False),
        Status.RUNNING: dict(start=False, kill=True, delete=False, pause=True, resume=False),
        Status.PAUSED: dict(start=False, kill=True, delete=False, pause=False, resume=True),
        Status.STOPPED: dict(start=False, kill=False, delete=True, pause=False, resume=False),
    }
    for status, rules in table.items():
        assert status.can_start() is rules["start"], status
        assert status.can_kill() is rules["kill"], status
        assert status.can_delete() is rules["delete"], status
        assert status.can_pause() is rules["pause"], status
        assert status.can_resume() is rules["resume"], status
    assert not Status.PAUSED.can_exec() and Status.PAUSED.can_exec(ignore_paused=True)
    assert Status.parse("running") is Status.RUNNING and str(Status.STOPPED) == "stopped"
    with pytest.raises(ValueError):
        Status.parse("sleeping")


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a b", "é", "x\n"])
def test_bad_ids_rejected(bad):
    with pytest.raises(errors.InvalidArgument):
        statelib.check_id(bad)


def test_reserve_is_exclusive(tmp_path):
    store = Store(str(tmp_path / "root"))
    path = store.reserve("abc")
    assert os.path.isdir(path)
    with pytest.raises(errors.AlreadyExists, match="already exists"):
        store.reserve("abc")


def test_save_is_atomic_and_round_trips(tmp_path):
    store = Store(str(tmp_path))
    state = State("c1", store.reserve("c1"), pid=123, pid_start=456, bundle="/b",
                  rootfs="/b/rootfs", created="2026-01-01T00:00:00Z",
                  annotations={"k": "v"}, config={"ociVersion": "1.2.0"}, cgroup={"version": 1})
    store.save(state)
    assert sorted(os.listdir(state.dir)) == ["state.json"]   # no temp file left
    loaded = store.load("c1")
    assert loaded.to_dict() == state.to_dict()
    assert store.ids() == ["c1"]
    store.remove("c1")
    store.remove("c1")   # idempotent
    assert store.ids() == []
    with pytest.raises(errors.NotFound, match="c1 does not exist"):
        store.load("c1")


def test_status_derived_from_process_and_fifo(tmp_path):
    store = Store(str(tmp_path))
    me = os.getpid()
    state = State("c2", store.reserve("c2"), pid=me,
                  pid_start=statelib.process_start_time(me), config={})
    assert state.status() is Status.RUNNING
    os.mkfifo(state.fifo_path)
    assert state.status() is Status.CREATED
    state.pid_start += 1          # the pid now belongs to another process
    assert state.status() is Status.STOPPED
    gone = State("c3", str(tmp_path), pid=2 ** 22 + 1, pid_start=1, config={})
    assert gone.status() is Status.STOPPED


def test_paused_needs_the_mark_and_a_frozen_cgroup(tmp_path):
    class FakeManager:
        frozen = True

        def is_frozen(self):
            return self.frozen

    store = Store(str(tmp_path))
    me = os.getpid()
    state = State("c4", store.reserve("c4"), pid=me,
                  pid_start=statelib.process_start_time(me), config={})
    manager = FakeManager()
    assert state.status(manager) is Status.RUNNING    # no mark: the freezer is not read
    open(state.paused_mark, "w").close()
    assert state.status(manager) is Status.PAUSED
    manager.frozen = False
    assert state.status(manager) is Status.RUNNING


def test_spec_state_and_hook_state_shapes(tmp_path):
    state = State("c5", str(tmp_path), pid=99999999, pid_start=1, bundle="/b", rootfs="/r",
                  created="t", config={"ociVersion": "1.1.0"}, annotations={"a": "b"})
    printed = state.spec_state()
    assert list(printed) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs",
                             "created", "owner", "annotations"]
    assert printed["status"] == "stopped" and printed["pid"] == 0
    hook = state.hook_state(Status.CREATING)
    assert hook == {"ociVersion": "1.1.0", "id": "c5", "status": "creating",
                    "bundle": "/b", "pid": 99999999, "annotations": {"a": "b"}}
    assert "pid" not in state.hook_state(Status.STOPPED)


def test_created_time_is_rfc3339_utc():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", statelib.now_rfc3339())
