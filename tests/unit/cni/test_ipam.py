"""host-local's allocator on a temporary dataDir."""

import os
import threading

import pytest

from hull.cni import ipam
from hull.cni.plugins import host_local


def conf(tmp_path, ranges, **extra):
    return {"name": "net", "cniVersion": "1.0.0",
            "ipam": {"type": "hull-host-local", "dataDir": str(tmp_path), "ranges": ranges, **extra}}


def add(c, cid, ifname="eth0", args=None, rc=None):
    return host_local.ipam_add(c, cid, ifname, args or {}, rc or {})


def test_allocates_sequentially_skipping_gateway_and_records_owner(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.160.0/24"}]], routes=[{"dst": "0.0.0.0/0"}])
    first = add(c, "a")
    assert first["ips"] == [{"address": "10.88.160.2/24", "gateway": "10.88.160.1"}]
    assert first["routes"] == [{"dst": "0.0.0.0/0"}]
    assert add(c, "b")["ips"][0]["address"] == "10.88.160.3/24"
    data = (tmp_path / "net" / "10.88.160.2").read_bytes()
    assert data == b"a\r\neth0"
    assert (tmp_path / "net" / "last_reserved_ip.0").read_text() == "10.88.160.3"


def test_round_robin_does_not_reuse_a_just_released_address(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.160.0/24", "rangeStart": "10.88.160.10", "rangeEnd": "10.88.160.12"}]])
    assert add(c, "a")["ips"][0]["address"] == "10.88.160.10/24"
    host_local.ipam_del(c, "a", "eth0")
    assert add(c, "b")["ips"][0]["address"] == "10.88.160.11/24"
    assert add(c, "c")["ips"][0]["address"] == "10.88.160.12/24"
    assert add(c, "d")["ips"][0]["address"] == "10.88.160.10/24"  # wraps around


def test_exhausted_range_names_the_range(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.160.0/30"}]])
    add(c, "a")
    with pytest.raises(ipam.IPAMError) as e:
        add(c, "b")
    assert e.value.code == ipam.ERR_RANGE_EXHAUSTED
    assert "10.88.160.1-10.88.160.2" in str(e.value)


def test_multiple_range_sets_get_one_address_each_and_fail_atomically(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.161.0/24"}], [{"subnet": "fd00:88:1::/126"}]])
    result = add(c, "a")
    assert [ip["address"] for ip in result["ips"]] == ["10.88.161.2/24", "fd00:88:1::2/126"]
    add(c, "b")  # takes fd00:88:1::3, the last v6 address
    before = sorted(os.listdir(tmp_path / "net"))
    with pytest.raises(ipam.IPAMError):
        add(c, "c")
    assert sorted(os.listdir(tmp_path / "net")) == before  # the v4 address was given back


def test_requested_ip_via_args_and_capability(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.162.0/24"}]])
    assert add(c, "a", args={"IP": "10.88.162.50"})["ips"][0]["address"] == "10.88.162.50/24"
    assert add(c, "b", rc={"ips": ["10.88.162.60/24"]})["ips"][0]["address"] == "10.88.162.60/24"
    with pytest.raises(ipam.IPAMError) as e:
        add(c, "c", args={"IP": "10.88.162.50"})
    assert "10.88.162.50" in str(e.value)
    with pytest.raises(ipam.IPAMError):
        add(c, "d", args={"IP": "192.0.2.1"})


def test_retried_add_returns_the_same_address(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.163.0/24"}]])
    assert add(c, "a")["ips"] == add(c, "a")["ips"]
    assert len(os.listdir(tmp_path / "net")) == 3  # one reservation, last_reserved_ip, lock


def test_release_is_by_container_and_ifname(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.164.0/24"}]])
    add(c, "a", "eth0")
    add(c, "a", "eth1")
    host_local.ipam_del(c, "a", "eth1")
    host_local.ipam_del(c, "a", "eth1")  # idempotent
    assert (tmp_path / "net" / "10.88.164.2").exists()
    assert not (tmp_path / "net" / "10.88.164.3").exists()
    host_local.ipam_check(c, "a", "eth0")
    with pytest.raises(ipam.IPAMError):
        host_local.ipam_check(c, "a", "eth1")


def test_gc_releases_addresses_not_in_the_valid_list(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.165.0/24"}]])
    for cid in ("a", "b", "c"):
        add(c, cid)
    host_local.ipam_gc(c, [{"containerID": "b", "ifname": "eth0"}])
    left = sorted(n for n in os.listdir(tmp_path / "net") if n.startswith("10."))
    assert left == ["10.88.165.3"]


def test_fifty_concurrent_adds_get_fifty_distinct_addresses(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.166.0/24"}]])
    results, errors = {}, []

    def one(i):
        try:
            results[i] = add(c, f"c{i}")["ips"][0]["address"]
        except Exception as e:  # collected and asserted below
            errors.append(e)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results.values())) == 50


def test_a_stale_reservation_from_a_crash_is_never_handed_out(tmp_path):
    c = conf(tmp_path, [[{"subnet": "10.88.167.0/24"}]])
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "10.88.167.2").write_text("crashed\r\neth0")  # reserved, then the plugin died
    assert add(c, "a")["ips"][0]["address"] == "10.88.167.3/24"


@pytest.mark.parametrize("ranges, cause", [
    ([[{"subnet": "10.88.0.0/33"}]], "prefix too long"),
    ([[{"subnet": "10.88.0.1/24"}]], "host bits"),
    ([[{"subnet": "10.88.0.0/31"}]], "too small"),
    ([[{"subnet": "10.88.0.0/24", "rangeStart": "10.89.0.1"}]], "not in network"),
    ([[{"subnet": "10.88.0.0/24"}, {"subnet": "fd00::/64"}]], "mixes"),
    ([[{"subnet": "10.88.0.0/24"}, {"subnet": "10.88.0.0/25"}]], "overlap"),
    ([], "no IP ranges"),
])
def test_bad_range_configs(tmp_path, ranges, cause):
    with pytest.raises(ipam.ConfigError) as e:
        add(conf(tmp_path, ranges), "a")
    assert cause in str(e.value) and e.value.code == 7


def test_legacy_top_level_subnet(tmp_path):
    c = {"name": "net", "ipam": {"type": "host-local", "dataDir": str(tmp_path), "subnet": "10.88.168.0/24",
                                 "gateway": "10.88.168.254"}}
    result = add(c, "a")
    assert result["ips"] == [{"address": "10.88.168.1/24", "gateway": "10.88.168.254"}]
