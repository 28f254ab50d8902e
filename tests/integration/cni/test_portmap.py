"""hostPort mappings: 127.0.0.1:hostPort reaches the pod's server; hostIP filters."""

import pytest

from .conftest import in_pod, sh

pytestmark = pytest.mark.root


def connect(port: int, host: str = "127.0.0.1") -> str:
    return sh("busybox", "nc", "-w", "2", host, str(port), check=False).stdout.strip()


def test_host_port_on_localhost_reaches_the_pod(net, pods, servers):
    net.write(net.hull_chain(), version="1.1.0")
    cni = net.cni()
    a = pods()
    port = 18200 + net.index
    cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80,
                                                          "protocol": "tcp"}]})
    servers(a, 80, "hello-from-pod-a")
    assert connect(port) == "hello-from-pod-a"
    cni.check("pod-a", a)
    cni.teardown("pod-a", a)
    assert net.nft_tables() == []
    servers(a, 80, "should-not-be-reached")
    assert connect(port) == ""


def test_host_ip_filters_which_address_maps(net, pods, servers):
    net.write(net.hull_chain(), version="1.0.0")
    cni = net.cni()
    a = pods()
    port = 18300 + net.index
    cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 81,
                                                          "hostIP": "127.0.0.2"}]})
    listing = sh("nft", "list", "map", "ip", net.portmap_table, "hostip_ports").stdout
    assert f"127.0.0.2 . tcp . {port}" in listing and "id: pod-a" in listing
    servers(a, 81, "via-127.0.0.2")
    assert connect(port, "127.0.0.1") == ""  # not mapped on this address
    assert connect(port, "127.0.0.2") == "via-127.0.0.2"
    cni.teardown("pod-a", a)
    assert net.nft_tables() == []


def test_two_pods_share_the_table_and_del_keeps_the_other(net, pods, servers):
    net.write(net.hull_chain(), version="1.0.0")
    cni = net.cni()
    a, b = pods(), pods()
    pa, pb = 18400 + net.index, 18500 + net.index
    cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": pa, "containerPort": 80}]})
    cni.setup("pod-b", b, capabilities={"portMappings": [{"hostPort": pb, "containerPort": 80,
                                                          "protocol": "udp"},
                                                         {"hostPort": pb, "containerPort": 80}]})
    cni.teardown("pod-a", a)
    listing = sh("nft", "list", "table", "ip", net.portmap_table).stdout
    assert "id: pod-a" not in listing and listing.count("id: pod-b") == 3  # udp, tcp, hairpin
    servers(b, 80, "b-still-mapped")
    assert connect(pb) == "b-still-mapped"
    cni.teardown("pod-b", b)
    assert net.nft_tables() == []


def test_a_host_port_already_mapped_for_another_pod_is_refused(net, pods):
    net.write(net.hull_chain(), version="1.0.0")
    cni = net.cni()
    a, b = pods(), pods()
    port = 18600 + net.index
    cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80}]})
    with pytest.raises(Exception) as e:
        cni.setup("pod-b", b, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80}]})
    assert "hull-portmap" in str(e.value)
    listing = sh("nft", "list", "table", "ip", net.portmap_table).stdout
    assert "id: pod-b" not in listing and "id: pod-a" in listing
    assert len(net.ip_files()) == 1  # pod-b's address was released by the rollback
    cni.teardown("pod-a", a)


def _iptables_cleanup(nat_existed: bool) -> None:
    """Remove hull's iptables chains; drop the nat table only if this test made it and it is bare."""
    for parent, rule in (("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "HULL-HOSTPORTS"]),
                         ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "HULL-HOSTPORTS"]),
                         ("POSTROUTING", ["-j", "HULL-HOSTPORTS-SNAT"])):
        sh("iptables", "-w", "-t", "nat", "-D", parent, *rule, check=False)
    for chain in ("HULL-HOSTPORTS", "HULL-HOSTPORTS-SNAT"):
        sh("iptables", "-w", "-t", "nat", "-F", chain, check=False)
        sh("iptables", "-w", "-t", "nat", "-X", chain, check=False)
    rules = sh("iptables", "-w", "-t", "nat", "-S", check=False).stdout.split("\n")
    if not nat_existed and all(not r or r.startswith("-P ") for r in rules):
        sh("nft", "delete", "table", "ip", "nat", check=False)


def test_iptables_backend_maps_and_cleans_up(net, pods, servers):
    nat_existed = "table ip nat" in sh("nft", "list", "tables").stdout
    chain = net.hull_chain()
    chain[1]["backend"] = "iptables"
    net.write(chain, version="1.0.0")
    cni = net.cni()
    a = pods()
    port = 18800 + net.index
    try:
        cni.setup("pod-ipt", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80}]})
        rules = sh("iptables", "-w", "-t", "nat", "-S", "HULL-HOSTPORTS").stdout
        assert f"--dport {port}" in rules and "id: pod-ipt" in rules
        servers(a, 80, "via-iptables")
        assert connect(port) == "via-iptables"
        cni.check("pod-ipt", a)
        cni.teardown("pod-ipt", a)
        assert "pod-ipt" not in sh("iptables", "-w", "-t", "nat", "-S").stdout
        assert net.nft_tables() == []
    finally:
        _iptables_cleanup(nat_existed)


def test_ipv6_host_port_maps_to_the_pods_ipv6_address(net, pods, servers):
    v6 = f"fd00:88:{net.index}::/64"
    chain = net.hull_chain()
    chain[0]["ipam"]["ranges"] = [[{"subnet": net.subnet}], [{"subnet": v6}]]
    net.write(chain, version="1.0.0")
    cni = net.cni()
    a, b = pods(), pods()
    port = 18900 + net.index
    result = cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80}]})
    cni.setup("pod-b", b)
    listing = sh("nft", "list", "table", "ip6", net.portmap_table).stdout
    assert f"{result.ips[1].ip} . 80" in listing
    gateway6 = result.ips[1].gateway
    servers(a, 80, "hello-over-ipv6")
    # from another pod to the host's address on the bridge: DNAT'ed into pod a
    out = in_pod(b, "busybox", "nc", "-w", "2", gateway6, str(port), check=False).stdout.strip()
    assert out == "hello-over-ipv6"
    cni.teardown("pod-a", a)
    cni.teardown("pod-b", b)
    assert net.nft_tables() == []


def test_hairpin_a_pod_reaches_itself_through_its_host_port(net, pods, servers):
    net.write(net.hull_chain(hairpinMode=True), version="1.0.0")
    cni = net.cni()
    a = pods()
    port = 18950 + net.index
    result = cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80}]})
    host_veth = result.interfaces[1].name
    with open(f"/sys/class/net/{host_veth}/brport/hairpin_mode") as f:
        assert f.read().strip() == "1"
    servers(a, 80, "hello-myself")
    out = in_pod(a, "busybox", "nc", "-w", "2", result.ips[0].gateway, str(port), check=False).stdout.strip()
    assert out == "hello-myself"
    cni.teardown("pod-a", a)
