"""hull-host-local as separate processes, as runtimes run it: 50 concurrent
ADDs get 50 distinct addresses; DEL and GC release them."""

import json
import os
import subprocess

import pytest

from .conftest import HULL_BIN

pytestmark = pytest.mark.root


def start(command, cid, conf):
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=cid, CNI_NETNS="/proc/self/ns/net",
               CNI_IFNAME="eth0", CNI_PATH=HULL_BIN)
    proc = subprocess.Popen([os.path.join(HULL_BIN, "hull-host-local")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    proc.stdin.write(json.dumps(conf).encode())
    proc.stdin.close()
    return proc


def test_fifty_concurrent_plugin_processes_get_distinct_addresses(tmp_path):
    conf = {"cniVersion": "1.1.0", "name": "hull-cni-test-hl",
            "ipam": {"type": "hull-host-local", "dataDir": str(tmp_path), "ranges": [[{"subnet": "10.88.230.0/24"}]]}}
    procs = [start("ADD", f"c{i}", conf) for i in range(50)]
    addresses = []
    for proc in procs:
        out = proc.stdout.read()
        assert proc.wait() == 0, out
        addresses.append(json.loads(out)["ips"][0]["address"])
    assert len(set(addresses)) == 50
    files = [n for n in os.listdir(tmp_path / "hull-cni-test-hl") if n.startswith("10.")]
    assert len(files) == 50
    for proc in [start("DEL", f"c{i}", conf) for i in range(25)]:
        assert proc.wait() == 0
    gc = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "c30", "ifname": "eth0"}]})
    env = dict(os.environ, CNI_COMMAND="GC", CNI_PATH=HULL_BIN)
    done = subprocess.run([os.path.join(HULL_BIN, "hull-host-local")], input=json.dumps(gc).encode(),
                          env=env, capture_output=True)
    assert done.returncode == 0, done.stdout
    assert [n for n in os.listdir(tmp_path / "hull-cni-test-hl") if n.startswith("10.")] == \
        [a.split("/")[0] for a in addresses[30:31]]
