"""Bad input gives a clear error naming the file, plugin or range, and
leaves nothing half-configured: a failed ADD is rolled back with DEL."""

import os

import pytest

from hull.errors import DeadlineExceeded, HullError, InvalidArgument, NotFound

from .conftest import in_pod, link_exists

pytestmark = pytest.mark.root


def bridge_ports(bridge: str) -> list[str]:
    path = f"/sys/class/net/{bridge}/brif"
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def test_malformed_conflist_names_the_file(net, pods):
    (net.conf_dir / "05-broken.conflist").write_text('{"cniVersion": "1.0.0", "name": "x", "plugins": [')
    with pytest.raises(InvalidArgument) as e:
        net.cni().setup("pod-a", pods())
    assert "05-broken.conflist" in str(e.value)


def test_missing_plugin_binary_is_named_and_earlier_plugins_rolled_back(net, pods):
    net.write([net.bridge_conf(), {"type": "hull-no-such-plugin"}])
    a = pods()
    with pytest.raises(NotFound) as e:
        net.cni().setup("pod-a", a)
    assert "hull-no-such-plugin" in str(e.value)
    assert bridge_ports(net.bridge) == []
    assert "eth0" not in in_pod(a, "ip", "-o", "link").stdout
    assert net.ip_files() == []


def test_exhausted_range_names_the_range_and_leaves_nothing(net, pods):
    small = net.ipam(ranges=[[{"subnet": f"{net.subnet_prefix}.0/30"}]])
    net.write([net.bridge_conf(ipam=small), {"type": "hull-loopback"}])
    cni = net.cni()
    a, b = pods(), pods()
    cni.setup("pod-a", a)
    ports = bridge_ports(net.bridge)
    with pytest.raises(HullError) as e:
        cni.setup("pod-b", b)
    assert f"{net.subnet_prefix}.1-{net.subnet_prefix}.2" in str(e.value) and "hull-bridge" in str(e.value)
    assert bridge_ports(net.bridge) == ports
    assert "eth0" not in in_pod(b, "ip", "-o", "link").stdout
    assert len(net.ip_files()) == 1
    cni.teardown("pod-a", a)


def test_nonexistent_netns_path(net):
    net.write(net.hull_chain())
    with pytest.raises(NotFound) as e:
        net.cni().setup("pod-a", "/run/netns/hull-cni-test-missing")
    assert "/run/netns/hull-cni-test-missing" in str(e.value)
    assert bridge_ports(net.bridge) == []


def test_hanging_plugin_times_out_is_killed_and_rolled_back(net, pods, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    hang = bindir / "hull-cni-test-hang"
    pidfile = tmp_path / "pid"
    hang.write_text(f"#!/bin/sh\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\necho $$ > {pidfile}\nexec sleep 60\n")
    hang.chmod(0o755)
    net.write([net.bridge_conf(), {"type": "hull-cni-test-hang"}])
    a = pods()
    cni = net.cni(timeout=2.0, bin_dirs=net.bin_dirs + [str(bindir)])
    with pytest.raises(DeadlineExceeded) as e:
        cni.setup("pod-a", a)
    assert "hull-cni-test-hang" in str(e.value)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)
    assert bridge_ports(net.bridge) == []
    assert net.ip_files() == []


def test_invalid_plugin_config_is_an_error_from_the_plugin(net, pods):
    conf = net.bridge_conf()
    del conf["ipam"]
    net.write([conf])
    with pytest.raises(InvalidArgument) as e:
        net.cni().setup("pod-a", pods())
    assert "hull-bridge" in str(e.value) and "ipam" in str(e.value)
    assert not link_exists(net.bridge) or bridge_ports(net.bridge) == []
