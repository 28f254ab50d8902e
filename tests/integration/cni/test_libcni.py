"""hull's plugins under the reference runtime library: a small driver built
on libcni (what cnitool does) runs ADD, CHECK and DEL of hull's chain."""

import json
import os
import shutil
import subprocess

import pytest

from .conftest import HULL_BIN, REF_BIN, in_pod, link_exists, sh

pytestmark = pytest.mark.root

GOPATH = "/usr/share/gocode"
LIBCNI = os.path.join(GOPATH, "src/github.com/containernetworking/cni/libcni")
DRIVER_SRC = os.path.join(os.path.dirname(__file__), "libcni_driver", "main.go")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if not shutil.which("go") or not os.path.isdir(LIBCNI):
        pytest.skip("needs apt packages golang-go and golang-github-appc-cni-dev (libcni sources)")
    out = tmp_path_factory.mktemp("libcni") / "libcni-driver"
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH,
               GOCACHE=str(tmp_path_factory.mktemp("gocache")))
    subprocess.run(["go", "build", "-o", str(out), DRIVER_SRC], env=env, check=True, capture_output=True)
    return str(out)


def drive(driver, net, command, netns, cid, caps=None):
    env = dict(os.environ, CNI_PATH=f"{HULL_BIN}:{REF_BIN}", CACHE_DIR=net.cache_dir + "-libcni")
    if caps:
        env["CAP_ARGS"] = json.dumps(caps)
    return subprocess.run([driver, command, str(net.conf_dir), net.name, netns, cid], env=env,
                          capture_output=True, text=True)


def test_libcni_runs_hull_chain(driver, net, pods, servers):
    net.write(net.hull_chain(), version="1.0.0")
    a, b = pods(), pods()
    port = 18700 + net.index
    caps = {"portMappings": [{"hostPort": port, "containerPort": 80, "protocol": "tcp"}]}
    added = drive(driver, net, "add", a, "libcni-a", caps)
    assert added.returncode == 0, added.stderr
    result = json.loads(added.stdout)
    assert result["cniVersion"] == "1.0.0" and result["interfaces"][2]["sandbox"] == a
    assert drive(driver, net, "add", b, "libcni-b").returncode == 0
    ip_a = result["ips"][0]["address"].split("/")[0]
    assert in_pod(b, "busybox", "ping", "-c", "1", "-W", "2", ip_a, check=False).returncode == 0
    servers(a, 80, "via-libcni")
    assert sh("busybox", "nc", "-w", "2", "127.0.0.1", str(port), check=False).stdout.strip() == "via-libcni"
    checked = drive(driver, net, "check", a, "libcni-a", caps)
    assert checked.returncode == 0, checked.stderr
    sh("ip", "link", "del", result["interfaces"][1]["name"])
    broken = drive(driver, net, "check", a, "libcni-a", caps)
    assert broken.returncode != 0 and "eth0" in broken.stderr
    for pod, cid in ((a, "libcni-a"), (b, "libcni-b")):
        deleted = drive(driver, net, "del", pod, cid, caps)
        assert deleted.returncode == 0, deleted.stderr
    assert net.ip_files() == [] and net.nft_tables() == []
    assert not link_exists(result["interfaces"][1]["name"])


def test_libcni_reports_hull_plugin_errors(driver, net, pods):
    conf = net.bridge_conf()
    conf["ipam"]["ranges"] = [[{"subnet": "10.88.999.0/24"}]]
    net.write([conf], version="1.0.0")
    failed = drive(driver, net, "add", pods(), "libcni-bad")
    assert failed.returncode != 0 and "10.88.999.0/24" in failed.stderr
    brif = f"/sys/class/net/{net.bridge}/brif"
    assert not os.path.isdir(brif) or os.listdir(brif) == []  # the veth made before IPAM failed is gone
