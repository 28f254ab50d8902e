"""hull's chain through hull's runtime, checked with real traffic."""

import os

import pytest

from hull.errors import HullError

from .conftest import in_pod, link_exists, sh

pytestmark = pytest.mark.root


def test_two_pods_ping_each_other_and_reach_a_server(net, pods, servers):
    net.write(net.hull_chain(), version="1.1.0")
    cni = net.cni()
    a, b = pods(), pods()
    ra = cni.setup("pod-a", a, args={"K8S_POD_NAME": "a"})
    rb = cni.setup("pod-b", b)
    ip_a, ip_b = ra.ips[0].ip, rb.ips[0].ip
    assert ip_a != ip_b and ip_a.startswith(net.subnet_prefix + ".")
    assert ra.ips[0].gateway == f"{net.subnet_prefix}.1"
    assert [i.name for i in ra.interfaces][0] == net.bridge and ra.interfaces[2].name == "eth0"
    assert ra.interfaces[2].sandbox == a
    assert in_pod(a, "busybox", "ping", "-c", "1", "-W", "2", ip_b, check=False).returncode == 0
    assert in_pod(b, "busybox", "ping", "-c", "1", "-W", "2", ip_a, check=False).returncode == 0
    servers(b, 8080, "pong-from-b")
    out = in_pod(a, "busybox", "nc", "-w", "2", ip_b, "8080", check=False)
    assert out.stdout.strip() == "pong-from-b"
    # loopback works inside the pod
    assert in_pod(a, "busybox", "ping", "-c", "1", "-W", "1", "127.0.0.1", check=False).returncode == 0
    # gateway address on the bridge, default route in the pod
    assert f"{net.subnet_prefix}.1/24" in sh("ip", "-o", "addr", "show", "dev", net.bridge).stdout
    assert f"default via {net.subnet_prefix}.1" in in_pod(a, "ip", "route").stdout
    cni.teardown("pod-a", a)
    cni.teardown("pod-b", b)


def test_del_removes_every_interface_address_rule_and_ip_file(net, pods):
    net.write(net.hull_chain(ipMasq=True), version="1.1.0")
    cni = net.cni()
    a = pods()
    result = cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": 18100 + net.index,
                                                                    "containerPort": 80}]})
    host_veth = result.interfaces[1].name
    assert link_exists(host_veth)
    assert len(net.ip_files()) == 1
    tables = net.nft_tables()
    assert any(net.masq_table in t for t in tables) and any(net.portmap_table in t for t in tables)
    assert "id: pod-a" in sh("nft", "list", "table", "ip", net.masq_table).stdout
    cni.teardown("pod-a", a)
    assert not link_exists(host_veth)
    assert "eth0" not in in_pod(a, "ip", "-o", "link").stdout
    assert net.ip_files() == []
    assert net.nft_tables() == []
    assert os.listdir(os.path.join(net.cache_dir, "results")) == []
    cni.teardown("pod-a", a)  # idempotent
    cni.teardown("pod-a", "/run/netns/hull-cni-test-gone")  # netns already gone


def test_check_passes_then_notices_a_deleted_veth(net, pods):
    net.write(net.hull_chain(), version="1.0.0")
    cni = net.cni()
    a = pods()
    result = cni.setup("pod-a", a)
    cni.check("pod-a", a)
    sh("ip", "link", "del", result.interfaces[1].name)
    with pytest.raises(HullError) as e:
        cni.check("pod-a", a)
    assert "hull-bridge" in str(e.value) and "eth0" in str(e.value)
    cni.teardown("pod-a", a)


def test_check_notices_a_removed_address(net, pods):
    net.write(net.hull_chain(), version="1.0.0")
    cni = net.cni()
    a = pods()
    result = cni.setup("pod-a", a)
    in_pod(a, "ip", "addr", "del", result.ips[0].address, "dev", "eth0")
    with pytest.raises(HullError) as e:
        cni.check("pod-a", a)
    assert result.ips[0].address in str(e.value)
    cni.teardown("pod-a", a)


def test_dual_stack_pods_reach_each_other_over_ipv6(net, pods):
    v6 = f"fd00:88:{net.index}::/64"
    ipam = net.ipam(ranges=[[{"subnet": net.subnet}], [{"subnet": v6}]])
    net.write([net.bridge_conf(ipam=ipam), {"type": "hull-loopback"}])
    cni = net.cni()
    a, b = pods(), pods()
    ra, rb = cni.setup("pod-a", a), cni.setup("pod-b", b)
    assert [ip.is_v6 for ip in ra.ips] == [False, True]
    assert in_pod(a, "busybox", "ping", "-c", "1", "-W", "3", rb.ips[1].ip, check=False).returncode == 0
    cni.teardown("pod-a", a)
    cni.teardown("pod-b", b)


def test_gc_tears_down_attachments_not_in_the_valid_list(net, pods):
    net.write(net.hull_chain(), version="1.1.0")
    cni = net.cni()
    a, b = pods(), pods()
    cni.setup("keep", a)
    stale = cni.setup("stale", b)
    cni.gc([("keep", "eth0")])
    assert not link_exists(stale.interfaces[1].name)
    assert len(net.ip_files()) == 1
    assert [att.container_id for att in cni.cache.list()] == ["keep"]
    cni.status()
    cni.teardown("keep", a)


def test_plugin_gc_releases_leaked_ip_files(net, pods):
    """An IP file without a cached attachment (e.g. a runtime crash mid-ADD) goes at GC."""
    net.write(net.hull_chain(), version="1.1.0")
    cni = net.cni()
    a = pods()
    cni.setup("keep", a)
    leaked = os.path.join(net.ipam_dir, net.name, f"{net.subnet_prefix}.200")
    with open(leaked, "w") as f:
        f.write("ghost\r\neth0")
    cni.gc([("keep", "eth0")])
    assert not os.path.exists(leaked) and len(net.ip_files()) == 1
    cni.teardown("keep", a)


def test_loopback_alone_brings_lo_up(net, pods):
    net.write([{"type": "hull-loopback"}])
    cni = net.cni()
    a = pods()
    assert "state DOWN" in in_pod(a, "ip", "link", "show", "lo").stdout or \
        "UP" not in in_pod(a, "ip", "link", "show", "lo").stdout.split(">")[0]
    result = cni.setup("pod-a", a)
    assert result.interfaces[0].name == "lo"
    assert "127.0.0.1/8" in [ip.address for ip in result.ips]
    assert ",UP" in in_pod(a, "ip", "link", "show", "lo").stdout
    cni.check("pod-a", a)
    cni.teardown("pod-a", a)


def test_mac_capability_sets_the_pod_mac(net, pods):
    conf = net.bridge_conf(capabilities={"mac": True})
    net.write([conf])
    cni = net.cni()
    a = pods()
    result = cni.setup("pod-a", a, capabilities={"mac": "02:42:0a:58:aa:01"})
    assert result.interfaces[2].mac == "02:42:0a:58:aa:01"
    assert "02:42:0a:58:aa:01" in in_pod(a, "ip", "link", "show", "eth0").stdout
    cni.check("pod-a", a)
    cni.teardown("pod-a", a)


def test_bridge_with_another_gateway_address_needs_force_address(net, pods):
    net.write([net.bridge_conf()])
    cni = net.cni()
    a = pods()
    cni.setup("pod-a", a)
    cni.teardown("pod-a", a)
    sh("ip", "addr", "flush", "dev", net.bridge)
    sh("ip", "addr", "add", f"{net.subnet_prefix}.254/24", "dev", net.bridge)
    with pytest.raises(HullError) as e:
        cni.setup("pod-b", pods())
    assert f"{net.subnet_prefix}.254/24" in str(e.value) and "forceAddress" in str(e.value)
    net.write([net.bridge_conf(forceAddress=True)])
    b = pods()
    cni.setup("pod-b", b)
    addresses = sh("ip", "-o", "-4", "addr", "show", "dev", net.bridge).stdout
    assert f"{net.subnet_prefix}.1/24" in addresses and f"{net.subnet_prefix}.254/24" not in addresses
    cni.teardown("pod-b", b)


def test_mtu_and_promisc_mode_reach_bridge_and_both_veth_ends(net, pods):
    net.write([net.bridge_conf(mtu=1400, promiscMode=True, hairpinMode=True)])
    cni = net.cni()
    a = pods()
    result = cni.setup("pod-a", a)
    bridge = sh("ip", "-o", "link", "show", net.bridge).stdout
    assert "mtu 1400" in bridge and "PROMISC" in bridge
    assert "mtu 1400" in sh("ip", "-o", "link", "show", result.interfaces[1].name).stdout
    assert "mtu 1400" in in_pod(a, "ip", "-o", "link", "show", "eth0").stdout
    with open(f"/sys/class/net/{result.interfaces[1].name}/brport/hairpin_mode") as f:
        assert f.read().strip() == "1"
    cni.teardown("pod-a", a)
