"""cgroup v1 backend on this machine's real hierarchies (hybrid layout)."""

from __future__ import annotations

import os
import signal

import pytest

from hull.cgroups import files
from hull.errors import FailedPrecondition, InvalidArgument

pytestmark = pytest.mark.root

MiB = 1 << 20


def read(mgr, controller, name):
    return files.read(mgr.paths[controller], name).strip()


def test_create_is_idempotent_and_fills_cpuset(v1_manager):
    v1_manager.create()
    v1_manager.create()
    for directory in v1_manager.paths.values():
        assert os.path.isdir(directory)
    parent = os.path.dirname(v1_manager.paths["cpuset"])
    assert read(v1_manager, "cpuset", "cpuset.cpus") == files.read(parent, "cpuset.cpus").strip()
    assert read(v1_manager, "cpuset", "cpuset.mems") != ""


def test_set_writes_every_resource_this_host_has(v1_manager):
    v1_manager.create()
    # RT budget comes from the parent, which (like runc) we leave to its owner
    files.write(os.path.dirname(v1_manager.paths["cpu"]), "cpu.rt_runtime_us", 10000)
    v1_manager.set({
        "memory": {"limit": 256 * MiB, "reservation": 128 * MiB, "swap": 512 * MiB,
                   "kernelTCP": 64 * MiB, "swappiness": 10, "disableOOMKiller": True,
                   "useHierarchy": True},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                "realtimePeriod": 1000000, "realtimeRuntime": 10000, "cpus": "0",
                "mems": "0"},
        "pids": {"limit": 50},
        "blockIO": {"weight": 500, "leafWeight": 300,   # no CFQ here: leafWeight ignored
                    "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": MiB}],
                    "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]},
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}],
    })
    assert read(v1_manager, "memory", "memory.limit_in_bytes") == str(256 * MiB)
    assert read(v1_manager, "memory", "memory.memsw.limit_in_bytes") == str(512 * MiB)
    assert read(v1_manager, "memory", "memory.soft_limit_in_bytes") == str(128 * MiB)
    assert read(v1_manager, "memory", "memory.kmem.tcp.limit_in_bytes") == str(64 * MiB)
    assert read(v1_manager, "memory", "memory.swappiness") == "10"
    assert "oom_kill_disable 1" in read(v1_manager, "memory", "memory.oom_control")
    assert read(v1_manager, "cpu", "cpu.shares") == "512"
    assert read(v1_manager, "cpu", "cpu.cfs_quota_us") == "50000"
    assert read(v1_manager, "cpu", "cpu.cfs_period_us") == "100000"
    assert read(v1_manager, "cpu", "cpu.cfs_burst_us") == "1000"
    assert read(v1_manager, "cpu", "cpu.rt_runtime_us") == "10000"
    assert read(v1_manager, "cpuset", "cpuset.cpus") == "0"
    assert read(v1_manager, "pids", "pids.max") == "50"
    assert read(v1_manager, "blkio", "blkio.bfq.weight") == "500"
    assert read(v1_manager, "blkio", "blkio.throttle.read_bps_device") == f"254:0 {MiB}"
    assert read(v1_manager, "blkio", "blkio.throttle.write_iops_device") == "254:0 100"
    assert read(v1_manager, "devices", "devices.list").splitlines() == ["c 1:3 rwm", "c 1:5 r"]


def test_update_can_shrink_memory_below_old_swap(v1_manager):
    v1_manager.create()
    v1_manager.set({"memory": {"limit": 256 * MiB, "swap": 512 * MiB}})
    # growing: memsw must go up before the limit, or the kernel refuses
    v1_manager.set({"memory": {"limit": 1024 * MiB, "swap": 2048 * MiB}})
    assert read(v1_manager, "memory", "memory.limit_in_bytes") == str(1024 * MiB)
    v1_manager.set({"memory": {"limit": 64 * MiB, "swap": 128 * MiB}})
    assert read(v1_manager, "memory", "memory.memsw.limit_in_bytes") == str(128 * MiB)
    v1_manager.set({"memory": {"limit": -1}})
    assert int(read(v1_manager, "memory", "memory.limit_in_bytes")) > 1 << 60


def test_swappiness_zero_is_written(v1_manager):
    v1_manager.create()
    v1_manager.set({"memory": {"swappiness": 0}})
    assert read(v1_manager, "memory", "memory.swappiness") == "0"


def test_kernel_refusals_name_the_field(v1_manager):
    v1_manager.create()
    with pytest.raises(InvalidArgument, match=r"linux.resources.cpu.shares: .*maximum"):
        v1_manager.set({"cpu": {"shares": 1 << 20}})
    with pytest.raises(InvalidArgument, match=r"linux.resources.cpu.cpus"):
        v1_manager.set({"cpu": {"cpus": "4000"}})
    with pytest.raises(FailedPrecondition, match=r"blockIO.weightDevice\[0\]"):
        # vda uses mq-deadline, so BFQ refuses per-device weights here
        v1_manager.set({"blockIO": {"weightDevice": [{"major": 254, "minor": 0,
                                                      "weight": 200}]}})


def test_missing_controllers_are_failed_precondition(v1_manager):
    v1_manager.create()
    with pytest.raises(FailedPrecondition, match=r"hugepageLimits\[0\].*hugetlb"):
        v1_manager.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 * MiB}]})
    with pytest.raises(FailedPrecondition, match=r"network.classID.*net_cls"):
        v1_manager.set({"network": {"classID": 0x100001}})
    with pytest.raises(InvalidArgument, match=r"linux.resources.unified"):
        v1_manager.set({"unified": {"memory.max": "1"}})
    # a missing controller fails the whole set before anything is written
    with pytest.raises(FailedPrecondition, match="hugetlb"):
        v1_manager.set({"pids": {"limit": 7},
                        "hugepageLimits": [{"pageSize": "2MB", "limit": 2 * MiB}]})
    assert read(v1_manager, "pids", "pids.max") == "max"


def test_apply_freeze_thaw_and_pids(v1_manager, children):
    v1_manager.create()
    proc = children.worker()
    v1_manager.apply(proc.pid)
    assert v1_manager.pids() == [proc.pid]
    for directory in set(v1_manager.paths.values()):
        assert str(proc.pid) in files.read(directory, "cgroup.procs").split()
    v1_manager.freeze()
    assert v1_manager.is_frozen()
    assert read(v1_manager, "freezer", "freezer.state") == "FROZEN"
    v1_manager.thaw()
    assert not v1_manager.is_frozen()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "worked\n"


def test_frozen_process_makes_no_progress(v1_manager, children):
    v1_manager.create()
    proc = children.python("print('ran', flush=True)")
    v1_manager.apply(proc.pid)
    v1_manager.freeze()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    with pytest.raises(Exception):
        proc.wait(timeout=0.5)   # frozen: it cannot read the line and exit
    v1_manager.thaw()
    assert proc.wait(timeout=30) == 0
    assert proc.stdout.read() == "ran\n"


def test_stats_from_a_working_process(v1_manager, children):
    v1_manager.create()
    v1_manager.set({"memory": {"limit": 512 * MiB}, "pids": {"limit": 20}})
    proc = children.worker(memory_bytes=40 * MiB, seconds=0.3)
    v1_manager.apply(proc.pid)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "worked\n"
    stats = v1_manager.stats()
    cpu = stats["cpu"]["usage"]
    assert cpu["total"] >= 200_000_000          # at least most of the 0.3 s busy loop
    assert cpu["user"] > 0 and len(cpu["percpu"]) == os.cpu_count()
    memory = stats["memory"]
    assert memory["usage"]["usage"] >= 40 * MiB
    assert memory["usage"]["limit"] == 512 * MiB
    assert 40 * MiB <= memory["workingSet"] <= memory["usage"]["usage"]
    assert memory["rss"] >= 40 * MiB
    assert memory["pageFaults"] >= (40 * MiB) // 4096
    assert stats["pids"] == {"current": 1, "limit": 20}
    assert stats["cpuset"]["cpus"] == list(range(os.cpu_count()))
    assert set(stats) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb"}


def test_devices_are_enforced(v1_manager, children):
    v1_manager.create()
    v1_manager.set({"devices": [{"allow": False, "access": "rwm"},
                                {"allow": True, "type": "c", "major": 1, "minor": 3,
                                 "access": "rw"}]})
    proc = children.python(
        "import os\n"
        "def try_open(path, flags):\n"
        "    try:\n"
        "        os.close(os.open(path, flags)); return 'ok'\n"
        "    except OSError as e:\n"
        "        return e.strerror\n"
        "print(try_open('/dev/null', os.O_RDWR), try_open('/dev/zero', os.O_RDONLY), sep=',')\n")
    v1_manager.apply(proc.pid)
    out, _ = proc.communicate("go\n", timeout=30)
    assert out.strip() == "ok,Operation not permitted"


def test_kill_all_and_destroy(v1_manager, children):
    v1_manager.create()
    procs = [children.worker() for _ in range(3)]
    for proc in procs:
        v1_manager.apply(proc.pid)
    assert sorted(v1_manager.pids()) == sorted(p.pid for p in procs)
    v1_manager.kill_all(signal.SIGKILL)
    for proc in procs:
        assert proc.wait(timeout=30) == -signal.SIGKILL
    v1_manager.destroy()
    for directory in v1_manager.paths.values():
        assert not os.path.exists(directory)
    v1_manager.destroy()   # gone already: fine


def test_kill_all_on_paused_container_still_kills(v1_manager, children):
    v1_manager.create()
    proc = children.worker()
    v1_manager.apply(proc.pid)
    v1_manager.freeze()
    v1_manager.kill_all(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def test_destroy_removes_sub_cgroups(v1_manager):
    v1_manager.create()
    os.mkdir(os.path.join(v1_manager.paths["memory"], "nested"))
    v1_manager.destroy()
    assert not os.path.exists(v1_manager.paths["memory"])
