"""cgroup v2 backend on this machine's REAL cgroup2 mount (/sys/fs/cgroup/unified).

That mount has no controllers, so resource files are tested on a fake tree
(tests/unit/cgroups/test_v2_fake.py). What cgroup2 offers without
controllers is tested here for real: the eBPF device filter, cgroup.freeze,
cgroup.kill, process moves and removal.
"""

from __future__ import annotations

import os
import signal

import pytest

from hull.cgroups import devices, files, stats
from hull.cgroups.v2 import V2Manager
from hull.errors import FailedPrecondition

pytestmark = pytest.mark.root

UNIFIED = "/sys/fs/cgroup/unified"

OPEN_DEVICES = (
    "import os\n"
    "def try_open(path, flags):\n"
    "    try:\n"
    "        os.close(os.open(path, flags)); return 'ok'\n"
    "    except OSError as e:\n"
    "        return e.strerror\n"
    "print(try_open('/dev/null', os.O_RDONLY), try_open('/dev/null', os.O_WRONLY),\n"
    "      try_open('/dev/null', os.O_RDWR), try_open('/dev/zero', os.O_RDONLY), sep=',')\n")


@pytest.fixture
def v2_manager(cgroup_name):
    if not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")):
        pytest.fail(f"{UNIFIED} is not a cgroup2 mount on this machine")
    mgr = V2Manager(f"{UNIFIED}/{cgroup_name}/ctr", container_id="ctr", root=UNIFIED)
    yield mgr
    if mgr.exists():
        mgr.kill_all(signal.SIGKILL)
    mgr.destroy()


def run_in(mgr, children, code):
    proc = children.python(code)
    mgr.apply(proc.pid)
    out, err = proc.communicate("go\n", timeout=30)
    assert proc.returncode == 0, err
    return out.strip()


def test_device_filter_denies_and_allows_per_rules(v2_manager, children):
    v2_manager.create()
    v2_manager.set({"devices": [{"allow": False, "access": "rwm"},
                                {"allow": True, "type": "c", "major": 1, "minor": 3,
                                 "access": "r"}]})
    assert len(devices.attached_programs(v2_manager.path)) == 1
    assert run_in(v2_manager, children, OPEN_DEVICES) == \
        "ok,Operation not permitted,Operation not permitted,Operation not permitted"


def test_device_filter_combines_accesses_of_separate_rules(v2_manager, children):
    v2_manager.create()
    v2_manager.set({"devices": [{"allow": False, "access": "rwm"},
                                {"allow": True, "type": "c", "major": 1, "minor": 3,
                                 "access": "r"},
                                {"allow": True, "type": "c", "major": 1, "minor": 3,
                                 "access": "w"}]})
    assert run_in(v2_manager, children, OPEN_DEVICES) == \
        "ok,ok,ok,Operation not permitted"


def test_device_filter_update_replaces_the_program(v2_manager, children):
    v2_manager.create()
    v2_manager.set({"devices": [{"allow": False, "access": "rwm"}]})
    first = devices.attached_programs(v2_manager.path)
    v2_manager.set({"devices": [{"allow": False, "access": "rwm"}]
                   + devices.DEFAULT_ALLOWED_DEVICES})
    second = devices.attached_programs(v2_manager.path)
    assert len(second) == 1 and second != first
    assert run_in(v2_manager, children, OPEN_DEVICES) == "ok,ok,ok,ok"


def test_without_device_rules_nothing_is_filtered(v2_manager, children):
    v2_manager.create()
    assert devices.attached_programs(v2_manager.path) == []
    assert run_in(v2_manager, children, OPEN_DEVICES) == "ok,ok,ok,ok"


def test_freeze_thaw_with_cgroup_freeze(v2_manager, children):
    v2_manager.create()
    proc = children.worker()
    v2_manager.apply(proc.pid)
    assert v2_manager.pids() == [proc.pid]
    v2_manager.freeze()
    assert v2_manager.is_frozen()
    assert "frozen 1" in files.read(v2_manager.path, "cgroup.events")
    v2_manager.thaw()
    assert not v2_manager.is_frozen()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "worked\n"


def test_kill_all_uses_cgroup_kill_and_destroy(v2_manager, children):
    v2_manager.create()
    procs = [children.worker() for _ in range(2)]
    for proc in procs:
        v2_manager.apply(proc.pid)
    v2_manager.kill_all()
    for proc in procs:
        assert proc.wait(timeout=30) == -signal.SIGKILL
    v2_manager.destroy()
    assert not os.path.exists(v2_manager.path)
    v2_manager.destroy()


def test_kill_all_with_other_signal_goes_through_freezer(v2_manager, children):
    v2_manager.create()
    proc = children.worker()
    v2_manager.apply(proc.pid)
    v2_manager.kill_all(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert not v2_manager.is_frozen()


def test_stats_without_controllers_are_zero_shaped(v2_manager):
    v2_manager.create()
    result = v2_manager.stats()
    assert set(result) == set(stats.empty())
    assert result["pids"] == {"current": 0, "limit": 0}


def test_resources_need_their_controller(v2_manager):
    v2_manager.create()
    with pytest.raises(FailedPrecondition, match=r"linux.resources.memory.limit: .*memory"):
        v2_manager.set({"memory": {"limit": 1 << 30}})
