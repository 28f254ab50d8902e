"""cgroup v2 backend against a FAKE cgroupfs tree (hull.cgroups.fake).

A fake because this machine's cgroup2 mount (/sys/fs/cgroup/unified) has
no controllers: the files asserted here are the ones a v2 kernel exposes,
and the values the ones runc/crun would write. The real eBPF device
filter, freezer and cgroup.kill are tested on the real mount in
tests/integration/cgroups/test_v2_unified.py.
"""

from __future__ import annotations

import os

import pytest

from hull import cgroups
from hull.cgroups.v2 import V2Manager
from hull.errors import FailedPrecondition, InvalidArgument


def manager(fake, path="/kubepods/pod1/ctr1", own="/"):
    mgr = cgroups.open_manager(path, container_id="ctr1", layout=fake.layout(own))
    mgr.device_filter = lambda directory, rules: fake.writes.append(("<bpf>", rules))
    return mgr


def test_open_manager_on_pure_v2_returns_v2_backend(fake_v2):
    mgr = manager(fake_v2)
    assert isinstance(mgr, V2Manager)
    assert mgr.version == 2
    assert mgr.paths == {"": fake_v2.root + "/kubepods/pod1/ctr1"}


def test_relative_path_is_below_parent_of_own_cgroup(fake_v2):
    mgr = manager(fake_v2, path="hull/ctr1", own="/user.slice/session-1.scope")
    assert mgr.path == fake_v2.root + "/user.slice/hull/ctr1"


def test_empty_path_defaults_to_container_id(fake_v2):
    mgr = manager(fake_v2, path="", own="/runtime.scope")
    assert mgr.path == fake_v2.root + "/ctr1"


def test_create_delegates_controllers_down_to_parent(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    assert os.path.isdir(mgr.path)
    for level in ("", "/kubepods", "/kubepods/pod1"):
        enabled = fake_v2.read(fake_v2.root + level, "cgroup.subtree_control").split()
        assert sorted(enabled) == sorted(["cpuset", "cpu", "io", "memory", "hugetlb", "pids",
                                          "rdma", "misc"])
    # the leaf itself delegates nothing: it holds the container's processes
    assert fake_v2.read(mgr.path, "cgroup.subtree_control").strip() == ""
    assert "memory" in fake_v2.read(mgr.path, "cgroup.controllers").split()
    writes = [path for path, _ in fake_v2.writes]
    assert writes == ["cgroup.subtree_control", "kubepods/cgroup.subtree_control",
                      "kubepods/pod1/cgroup.subtree_control"]


def test_create_is_idempotent(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    count = len(fake_v2.writes)
    mgr.create()
    assert len(fake_v2.writes) == count


def test_set_writes_converted_values(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    fake_v2.writes.clear()
    mgr.set({
        "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 10000,
                "cpus": "0-1", "mems": "0", "idle": 0},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
    })
    leaf = "kubepods/pod1/ctr1/"
    assert [(p[len(leaf):], v) for p, v in fake_v2.writes] == [
        ("memory.swap.max", "536870912"),          # memory+swap minus memory
        ("memory.max", "536870912"),
        ("memory.low", "268435456"),
        ("cpu.weight", "39"),                      # 1 + (1024-2)*9999/262142
        ("cpu.max", "50000 100000"),
        ("cpu.max.burst", "10000"),
        ("cpu.idle", "0"),
        ("cpuset.cpus", "0-1"),
        ("cpuset.mems", "0"),
        ("pids.max", "100"),
        ("io.weight", "4950"),                     # 1 + (500-10)*9999//990
        ("io.weight", "8:0 2930"),                 # 1 + (300-10)*9999//990
        ("io.max", "8:0 rbps=1048576"),
        ("io.max", "8:0 wiops=100"),
        ("hugetlb.2MB.max", "2097152"),
        ("hugetlb.2MB.rsvd.max", "2097152"),
        ("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
    ]
    assert fake_v2.read(mgr.path, "memory.max") == "536870912\n"


@pytest.mark.parametrize("memory, expected", [
    ({"limit": -1}, [("memory.swap.max", "max"), ("memory.max", "max")]),
    ({"limit": 1000, "swap": 1000}, [("memory.swap.max", "0"), ("memory.max", "1000")]),
    ({"limit": 1000, "swap": -1}, [("memory.swap.max", "max"), ("memory.max", "1000")]),
    ({"limit": 1000}, [("memory.max", "1000")]),
])
def test_memory_swap_conversion(fake_v2, memory, expected):
    mgr = manager(fake_v2)
    mgr.create()
    fake_v2.writes.clear()
    mgr.set({"memory": memory})
    assert [(os.path.basename(p), v) for p, v in fake_v2.writes] == expected


def test_cpu_quota_unlimited_and_period_only(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    fake_v2.writes.clear()
    mgr.set({"cpu": {"quota": -1, "period": 250000}})
    assert fake_v2.writes[-1][1] == "max 250000"


def test_unified_overrides_converted_values(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    fake_v2.writes.clear()
    mgr.set({"memory": {"limit": 1000}, "unified": {"memory.max": "2000", "memory.high": "1500"}})
    assert fake_v2.read(mgr.path, "memory.max") == "2000\n"
    assert fake_v2.read(mgr.path, "memory.high") == "1500\n"


def test_devices_go_to_the_device_filter(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    rules = [{"allow": False, "access": "rwm"}]
    mgr.set({"devices": rules})
    assert ("<bpf>", rules) in fake_v2.writes


def test_missing_controller_is_failed_precondition(tmp_path, monkeypatch):
    from hull.cgroups.fake import FakeCgroup2

    fake = FakeCgroup2(str(tmp_path / "cg"), controllers=("cpu", "memory")).install(monkeypatch)
    mgr = manager(fake)
    mgr.create()
    with pytest.raises(FailedPrecondition, match=r"linux.resources.pids.limit: .*pids"):
        mgr.set({"pids": {"limit": 10}})
    with pytest.raises(FailedPrecondition, match=r"hugepageLimits\[0\]"):
        mgr.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})
    with pytest.raises(FailedPrecondition, match=r"unified.io.max"):
        mgr.set({"unified": {"io.max": "8:0 rbps=1"}})


def test_validation_happens_before_any_write(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    fake_v2.writes.clear()
    with pytest.raises(InvalidArgument, match=r"linux.resources.cpu.cpus"):
        mgr.set({"memory": {"limit": 1000}, "cpu": {"cpus": "3-1"}})
    assert fake_v2.writes == []


def test_realtime_is_rejected_on_v2(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    with pytest.raises(InvalidArgument, match=r"linux.resources.cpu.realtimeRuntime"):
        mgr.set({"cpu": {"realtimeRuntime": 1000}})


def test_swap_without_memory_limit_is_invalid(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    with pytest.raises(InvalidArgument, match=r"linux.resources.memory.swap"):
        mgr.set({"memory": {"swap": 1000}})


def test_freeze_thaw_and_is_frozen(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    mgr.freeze()
    assert mgr.is_frozen()
    assert fake_v2.read(mgr.path, "cgroup.freeze") == "1\n"
    mgr.thaw()
    assert not mgr.is_frozen()


def test_apply_and_recursive_pids(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    mgr.apply(4242)
    fake_v2.mkdir(mgr.path + "/sub")
    fake_v2.write(mgr.path + "/sub", "cgroup.procs", 4343)
    assert sorted(mgr.pids()) == [4242, 4343]


def test_kill_all_uses_cgroup_kill(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    fake_v2.writes.clear()
    mgr.kill_all()
    assert fake_v2.writes == [("kubepods/pod1/ctr1/cgroup.kill", "1")]


def test_save_load_round_trip(fake_v2):
    mgr = manager(fake_v2)
    again = cgroups.load_manager(mgr.save())
    assert isinstance(again, V2Manager)
    assert (again.path, again.root, again.container_id) == (mgr.path, mgr.root, "ctr1")


def test_destroy_is_idempotent_and_refuses_busy(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    fake_v2.mkdir(mgr.path + "/sub")
    mgr.destroy()
    assert not os.path.exists(mgr.path)
    assert os.path.isdir(os.path.dirname(mgr.path))   # parents belong to others
    mgr.destroy()
    busy = manager(fake_v2, path="/busy")
    busy.create()
    busy.apply(1)
    with pytest.raises(FailedPrecondition):
        busy.destroy()


MEMORY_STAT = """anon 104857600
file 52428800
kernel 3145728
kernel_stack 65536
shmem 0
inactive_anon 0
active_anon 104857600
inactive_file 20971520
active_file 31457280
pgfault 12345
pgmajfault 67
"""


def test_stats_parse_realistic_files(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    path = mgr.path

    def put(name, text):
        with open(os.path.join(path, name), "w") as f:
            f.write(text)

    put("cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"
                    "core_sched.force_idle_usec 0\nnr_periods 40\nnr_throttled 7\n"
                    "throttled_usec 350000\nnr_bursts 0\nburst_usec 0\n")
    put("memory.current", "160000000\n")
    put("memory.max", "536870912\n")
    put("memory.peak", "170000000\n")
    put("memory.swap.current", "4096\n")
    put("memory.swap.max", "max\n")
    put("memory.stat", MEMORY_STAT)
    put("memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n")
    put("pids.current", "3\n")
    put("pids.max", "100\n")
    put("io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                   "253:0 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n")
    put("hugetlb.2MB.current", "4194304\n")
    put("hugetlb.2MB.events", "max 3\n")
    stats = mgr.stats()
    assert stats["cpu"]["usage"] == {"total": 2_500_000_000, "user": 2_000_000_000,
                                     "kernel": 500_000_000, "percpu": [],
                                     "percpu_kernel": [], "percpu_user": []}
    assert stats["cpu"]["throttling"] == {"periods": 40, "throttledPeriods": 7,
                                          "throttledTime": 350_000_000}
    memory = stats["memory"]
    assert memory["usage"] == {"usage": 160000000, "max": 170000000, "limit": 536870912,
                               "failcnt": 9}
    assert memory["workingSet"] == 160000000 - 20971520
    assert (memory["rss"], memory["cache"]) == (104857600, 52428800)
    assert (memory["pageFaults"], memory["majorPageFaults"]) == (12345, 67)
    assert (memory["oomEvents"], memory["oomKillEvents"]) == (2, 1)
    assert memory["swap"]["usage"] == 160000000 + 4096
    assert memory["swap"]["limit"] == 2**64 - 1
    assert stats["pids"] == {"current": 3, "limit": 100}
    assert {"major": 8, "minor": 0, "op": "Write", "value": 8192} in \
        stats["blkio"]["ioServiceBytesRecursive"]
    assert {"major": 253, "minor": 0, "op": "Read", "value": 1} in \
        stats["blkio"]["ioServicedRecursive"]
    assert stats["hugetlb"]["2MB"] == {"usage": 4194304, "max": 0, "failcnt": 3}
    assert stats["hugetlb"]["1GB"]["usage"] == 0
    assert stats["cpuset"] == {"cpus": [0, 1], "mems": [0]}


def test_check_before_update_refuses_limit_below_usage(fake_v2):
    mgr = manager(fake_v2)
    mgr.create()
    with open(os.path.join(mgr.path, "memory.current"), "w") as f:
        f.write("5000\n")
    with pytest.raises(InvalidArgument, match=r"linux.resources.memory.limit: .*5000"):
        mgr.set({"memory": {"limit": 4096, "checkBeforeUpdate": True}})
    mgr.set({"memory": {"limit": 4096}})   # without the flag the kernel decides
    mgr.set({"memory": {"limit": 8192, "checkBeforeUpdate": True}})
    assert fake_v2.read(mgr.path, "memory.max") == "8192\n"



def test_kernel_refusals_name_the_field(fake_v2):
    """The fake refuses what the kernel's parsers would (see hull.cgroups.fake)."""
    mgr = manager(fake_v2)
    mgr.create()
    with pytest.raises(InvalidArgument, match=r"linux.resources.unified.cpu.max"):
        mgr.set({"unified": {"cpu.max": "lots"}})
    with pytest.raises(InvalidArgument, match=r"linux.resources.unified.io.max"):
        mgr.set({"unified": {"io.max": "8:0 speed=fast"}})

