"""hull's plugins swap with the reference ones: mixed chains give the same
results as the all-reference chain, and the reference plugins' CLI contract
(env + stdin, VERSION) is honoured."""

import json
import os
import subprocess

import pytest

from .conftest import HULL_BIN, REF_BIN, in_pod

pytestmark = pytest.mark.root


def normalized(result):
    """What must match between chains: everything but MACs and the random host veth name."""
    raw = result.raw
    return {
        "interfaces": [(i["name"] if not i["name"].startswith("veth") else "veth*", bool(i.get("sandbox")))
                       for i in raw.get("interfaces", [])],
        "ips": sorted((ip["address"], ip.get("gateway"), ip.get("interface")) for ip in raw.get("ips", [])),
        "routes": sorted((r["dst"], r.get("gw")) for r in raw.get("routes", [])),
        "dns": raw.get("dns") or {},
    }


CHAINS = {
    "reference": ("bridge", "host-local"),
    "hull-bridge.ref-host-local": ("hull-bridge", "host-local"),
    "ref-bridge.hull-host-local": ("bridge", "hull-host-local"),
    "hull": ("hull-bridge", "hull-host-local"),
}


def test_mixed_chains_match_the_reference_chain(net, pods, tmp_path):
    results = {}
    for label, (bridge, ipam) in CHAINS.items():
        conf = net.bridge_conf(kind=bridge, ipam=net.ipam(kind=ipam, dataDir=str(tmp_path / label)))
        net.write([conf, {"type": "loopback"}], version="1.0.0")
        cni = net.cni()
        a, b = pods(), pods()
        ra, rb = cni.setup(f"{label}-a", a), cni.setup(f"{label}-b", b)
        assert in_pod(a, "busybox", "ping", "-c", "1", "-W", "2", rb.ips[0].ip, check=False).returncode == 0, label
        results[label] = normalized(ra)
        cni.check(f"{label}-a", a)
        cni.teardown(f"{label}-a", a)
        cni.teardown(f"{label}-b", b)
        assert os.listdir(tmp_path / label / net.name) in (["lock"], ["last_reserved_ip.0", "lock"],
                                                          ["lock", "last_reserved_ip.0"]) or \
            not [n for n in os.listdir(tmp_path / label / net.name) if n[0].isdigit()], label
    assert results["reference"]["interfaces"] == [(net.bridge, False), ("veth*", False), ("eth0", True)]
    assert results["reference"]["routes"] == [("0.0.0.0/0", f"{net.subnet_prefix}.1")]
    for label, got in results.items():
        assert got == results["reference"], label


def test_reference_and_hull_host_local_share_a_data_dir(net, pods):
    """Alternating allocators on one dataDir never hand out the same address."""
    got = []
    for i, ipam in enumerate(["host-local", "hull-host-local", "host-local", "hull-host-local"]):
        net.write([net.bridge_conf(ipam=net.ipam(kind=ipam))], version="1.0.0")
        cni = net.cni()
        pod = pods()
        got.append((cni, f"c{i}", pod, cni.setup(f"c{i}", pod).ips[0].ip))
    assert len({ip for *_, ip in got}) == 4
    for cni, cid, pod, _ in got:
        cni.teardown(cid, pod)
    assert net.ip_files() == []


@pytest.mark.parametrize("plugin", ["hull-bridge", "hull-host-local", "hull-portmap", "hull-loopback"])
def test_version_command_like_libcni(plugin):
    out = subprocess.run([os.path.join(HULL_BIN, plugin)], input=b'{"cniVersion":"1.0.0"}',
                         env={"CNI_COMMAND": "VERSION", "PATH": os.environ["PATH"]}, capture_output=True)
    assert out.returncode == 0, out
    versions = json.loads(out.stdout)["supportedVersions"]
    reference = json.loads(subprocess.run([os.path.join(REF_BIN, "bridge")], input=b'{"cniVersion":"1.0.0"}',
                                          env={"CNI_COMMAND": "VERSION"}, capture_output=True).stdout)
    assert set(reference["supportedVersions"]) <= set(versions) and "1.1.0" in versions


def test_plugin_error_json_when_env_is_missing():
    out = subprocess.run([os.path.join(HULL_BIN, "hull-bridge")], input=b"{}",
                         env={"CNI_COMMAND": "ADD"}, capture_output=True)
    assert out.returncode == 1
    error = json.loads(out.stdout)
    assert error["code"] == 4 and "CNI_CONTAINERID" in error["msg"]


def test_old_config_version_gets_old_result_format(net, pods):
    net.write([net.bridge_conf()], version="0.3.1")
    cni = net.cni()
    a = pods()
    result = cni.setup("pod-a", a)
    assert result.cni_version == "0.3.1" and result.raw["ips"][0]["version"] == "4"
    cni.teardown("pod-a", a)


def test_hull_portmap_behind_the_reference_bridge(net, pods, servers):
    net.write([net.bridge_conf(kind="bridge", ipam=net.ipam(kind="host-local")), net.portmap_conf(),
               {"type": "loopback"}], version="1.0.0")
    cni = net.cni()
    a = pods()
    port = 18650 + net.index
    cni.setup("pod-a", a, capabilities={"portMappings": [{"hostPort": port, "containerPort": 80,
                                                          "protocol": "tcp"}]})
    servers(a, 80, "ref-bridge-hull-portmap")
    out = subprocess.run(["busybox", "nc", "-w", "2", "127.0.0.1", str(port)], capture_output=True, text=True)
    assert out.stdout.strip() == "ref-bridge-hull-portmap"
    cni.check("pod-a", a)
    cni.teardown("pod-a", a)
    assert net.nft_tables() == []


def test_gc_and_status_with_a_reference_ipam_that_predates_cni_11(net, pods):
    net.write([net.bridge_conf(ipam=net.ipam(kind="host-local"))], version="1.1.0")
    cni = net.cni()
    a = pods()
    cni.setup("keep", a)  # reference host-local gets cniVersion 1.0.0 from hull-bridge
    cni.status()
    cni.gc([("keep", "eth0")])
    assert len(net.ip_files()) == 1
    cni.teardown("keep", a)
    assert net.ip_files() == []
