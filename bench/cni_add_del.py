#!/usr/bin/env python3
"""ADD then DEL for N pod namespaces through hull's CNI runtime, once with
hull's chain (hull-bridge + hull-host-local + hull-portmap + hull-loopback)
and once with the reference plugins (bridge + host-local + portmap +
loopback), in one run. Prints p50/p99 per verb and the hull/reference ratio.

Needs root. Everything stays on this machine: pods are namespaces named
hull-cni-bench-*, bridges hull-cni-b0/b1 on 10.88.250.0/24 and 10.88.251.0/24,
one hostPort each (19000+), all removed at the end.

    .venv/bin/python bench/cni_add_del.py [--pods 50] [--no-portmap]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hull.cni import CNI  # noqa: E402
from hull.sys import netns  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN_DIRS = [os.path.join(REPO, ".venv", "bin"), "/usr/lib/cni"]


def conflist(label, bridge, ipam, portmap, loopback, bridge_name, subnet, data_dir, with_portmap):
    plugins = [{"type": bridge, "bridge": bridge_name, "isGateway": True, "isDefaultGateway": True,
                "ipam": {"type": ipam, "dataDir": data_dir, "ranges": [[{"subnet": subnet}]]}}]
    if with_portmap:
        plugins.append({"type": portmap, "capabilities": {"portMappings": True}, "nftTable": "hull-cni-bench"})
    plugins.append({"type": loopback})
    return {"cniVersion": "1.0.0", "name": f"hull-cni-bench-{label}", "plugins": plugins}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_chain(label, conf, namespaces, work, with_portmap):
    conf_dir = os.path.join(work, label, "net.d")
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, "10-bench.conflist"), "w") as f:
        json.dump(conf, f)
    cni = CNI(conf_dir, BIN_DIRS, os.path.join(work, label, "cache"))
    adds, dels = [], []
    for i, ns in enumerate(namespaces):
        caps = {"portMappings": [{"hostPort": 19000 + i, "containerPort": 80, "protocol": "tcp"}]} \
            if with_portmap else {}
        start = time.perf_counter()
        cni.setup(f"bench{i}", ns, capabilities=caps)
        adds.append(time.perf_counter() - start)
    for i, ns in enumerate(namespaces):
        start = time.perf_counter()
        cni.teardown(f"bench{i}", ns)
        dels.append(time.perf_counter() - start)
    return adds, dels


def nat_table_exists():
    return "table ip nat" in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--no-portmap", dest="portmap", action="store_false")
    opts = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hull-cni-bench-")
    nat_before = nat_table_exists()
    namespaces = [netns.create_named(f"hull-cni-bench-{os.getpid()}-{i}") for i in range(opts.pods)]
    chains = {
        "hull": conflist("hull", "hull-bridge", "hull-host-local", "hull-portmap", "hull-loopback", "hull-cni-b0",
                         "10.88.250.0/24", os.path.join(work, "ipam"), opts.portmap),
        "reference": conflist("ref", "bridge", "host-local", "portmap", "loopback", "hull-cni-b1",
                              "10.88.251.0/24", os.path.join(work, "ipam"), opts.portmap),
    }
    timings = {}
    try:
        for label, conf in chains.items():
            timings[label] = run_chain(label, conf, namespaces, work, opts.portmap)
    finally:
        for ns in namespaces:
            netns.remove_named(ns)
        for bridge in ("hull-cni-b0", "hull-cni-b1"):
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip", "hull-cni-bench"], capture_output=True)
        if not nat_before and nat_table_exists():  # the reference portmap's iptables chains
            subprocess.run(["nft", "delete", "table", "ip", "nat"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    chain = "bridge + host-local" + (" + portmap" if opts.portmap else "") + " + loopback"
    print(f"CNI ADD/DEL through hull's runtime, {opts.pods} pods, chain: {chain}")
    print(f"{'chain':<11} {'ADD p50':>9} {'ADD p99':>9} {'DEL p50':>9} {'DEL p99':>9}   (ms)")
    for label, (adds, dels) in timings.items():
        print(f"{label:<11} {1000 * percentile(adds, 50):>9.1f} {1000 * percentile(adds, 99):>9.1f} "
              f"{1000 * percentile(dels, 50):>9.1f} {1000 * percentile(dels, 99):>9.1f}")
    if len(timings) == 2:
        (ha, hd), (ra, rd) = timings["hull"], timings["reference"]
        print(f"{'hull/ref':<11} {percentile(ha, 50) / percentile(ra, 50):>9.2f} "
              f"{percentile(ha, 99) / percentile(ra, 99):>9.2f} {percentile(hd, 50) / percentile(rd, 50):>9.2f} "
              f"{percentile(hd, 99) / percentile(rd, 99):>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
