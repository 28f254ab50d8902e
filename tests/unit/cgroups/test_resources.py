"""Validation of linux.resources: errors name the field; v2 conversions."""

from __future__ import annotations

import pytest

from hull.cgroups import resources
from hull.errors import InvalidArgument


@pytest.mark.parametrize("bad, field", [
    ({"memory": {"limit": "1G"}}, "linux.resources.memory.limit"),
    ({"memory": {"limit": -5}}, "linux.resources.memory.limit"),
    ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
    ({"memory": {"disableOOMKiller": 1}}, "linux.resources.memory.disableOOMKiller"),
    ({"memory": {"limit": 2000, "swap": 1000}}, "linux.resources.memory.swap"),
    ({"cpu": {"shares": -1}}, "linux.resources.cpu.shares"),
    ({"cpu": {"cpus": "a-b"}}, "linux.resources.cpu.cpus"),
    ({"cpu": {"mems": 0}}, "linux.resources.cpu.mems"),
    ({"cpu": {"idle": 2}}, "linux.resources.cpu.idle"),
    ({"pids": {"limit": True}}, "linux.resources.pids.limit"),
    ({"blockIO": {"weight": 70000}}, "linux.resources.blockIO.weight"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}},
     r"linux.resources.blockIO.throttleReadBpsDevice\[0\].rate"),
    ({"blockIO": {"weightDevice": [{"minor": 0, "weight": 10}]}},
     r"linux.resources.blockIO.weightDevice\[0\].major"),
    ({"hugepageLimits": [{"pageSize": "2XB", "limit": 1}]},
     r"linux.resources.hugepageLimits\[0\].pageSize"),
    ({"devices": [{"allow": "yes"}]}, r"linux.resources.devices\[0\].allow"),
    ({"devices": [{"allow": True, "type": "x"}]}, r"linux.resources.devices\[0\].type"),
    ({"devices": [{"allow": True, "access": "rwx"}]}, r"linux.resources.devices\[0\].access"),
    ({"unified": {"../memory.max": "1"}}, r"linux.resources.unified"),
    ({"unified": {"memory.max": 5}}, r"linux.resources.unified.memory.max"),
    ({"unified": {"cgroup.procs": "1"}}, r"linux.resources.unified.cgroup.procs"),
    ({"rdma": {"mlx": {"hcaHandles": -1}}}, r"linux.resources.rdma.mlx.hcaHandles"),
    ({"network": {"priorities": [{"name": "eth0"}]}},
     r"linux.resources.network.priorities\[0\].priority"),
    ({"memory": []}, "linux.resources.memory"),
])
def test_bad_values_name_the_field(bad, field):
    with pytest.raises(InvalidArgument, match=field):
        resources.check(bad)


def test_a_full_valid_config_passes():
    resources.check({
        "memory": {"limit": 1 << 30, "reservation": 1 << 29, "swap": 2 << 30, "kernel": -1,
                   "kernelTCP": 1 << 20, "swappiness": 60, "disableOOMKiller": False,
                   "useHierarchy": True},
        "cpu": {"shares": 1024, "quota": -1, "period": 100000, "burst": 0,
                "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "0-1,3", "mems": "0",
                "idle": 1},
        "pids": {"limit": -1},
        "blockIO": {"weight": 10, "leafWeight": 10,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                    "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]},
        "hugepageLimits": [{"pageSize": "1GB", "limit": 0}],
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
        "unified": {"memory.high": "max"},
        "rdma": {"mlx5_1": {"hcaHandles": 3}},
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
    })


def test_swappiness_minus_one_as_u64_means_unset():
    resources.check({"memory": {"swappiness": 2**64 - 1}})


@pytest.mark.parametrize("shares, weight", [(0, 0), (2, 1), (262144, 10000), (1024, 39),
                                            (1, 1), (10**9, 10000)])
def test_shares_to_weight(shares, weight):
    assert resources.shares_to_weight(shares) == weight


def test_blkio_weight_conversion_bounds():
    assert resources.blkio_weight_to_io_weight(10) == 1
    assert resources.blkio_weight_to_io_weight(1000) == 10000


@pytest.mark.parametrize("swap, memory, expected", [
    (0, -1, -1), (-1, 100, -1), (0, 100, 0), (300, 100, 200), (100, 100, 0)])
def test_swap_conversion(swap, memory, expected):
    assert resources.memory_swap_to_v2(swap, memory) == expected


def test_swap_conversion_errors():
    with pytest.raises(InvalidArgument, match="memory.swap"):
        resources.memory_swap_to_v2(100, 0)
    with pytest.raises(InvalidArgument, match="memory.swap"):
        resources.memory_swap_to_v2(50, 100)


@pytest.mark.parametrize("rule, text", [
    ({"allow": False, "access": "rwm"}, "a"),
    ({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}, "c 1:3 rw"),
    ({"allow": True, "type": "b", "major": 8, "access": "r"}, "b 8:* r"),
    ({"allow": True, "type": "c", "major": -1, "minor": -1, "access": "m"}, "c *:* m"),
    ({"allow": True, "type": "c", "major": 136}, "c 136:* rwm"),
])
def test_v1_device_rule_text(rule, text):
    assert resources.device_rule_text(rule) == text


def test_cpu_list_parse():
    assert resources.parse_cpu_list("0-2,5", "f") == {0, 1, 2, 5}
    assert resources.parse_cpu_list("", "f") == set()
