#!/usr/bin/env python3
"""ADD then DEL for N pod namespaces through hull's CNI runtime, once with
hull's chain (hull-bridge + hull-host-local + hull-portmap + hull-loopback)
and once with the reference plugins (bridge + host-local + portmap +
loopback), in one run. Prints p50/p99 per verb and the hull/reference ratio.

Needs root. Everything stays on this machine: pods are namespaces named
hull-cni-bench-*, bridges hull-cni-b0/b1 on 10.88.250.0/24 and 10.88.251.0/24,
one hostPort each (19000+), all removed at the end.

    .venv/bin/python bench/cni_add_del.py [--pods 50] [--no-portmap] [--python /usr/bin/python3.11]

--python runs hull's plugins under another Python 3.11 (temporary launchers
like scripts/setup's): Debian's build links libpython statically and has
_socket, _struct, select and fcntl built in, which starts plugins faster.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def write_launchers(python: str, work: str) -> str:
    """Launchers for hull's plugins under ``python``, as scripts/setup writes them."""
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    for exe, module in (("hull-bridge", "bridge"), ("hull-host-local", "host_local"),
                        ("hull-portmap", "portmap"), ("hull-loopback", "loopback")):
        path = os.path.join(bindir, exe)
        with open(path, "w") as f:
            f.write(f"#!{python} -IS\nimport sys\nsys.path.insert(0, {os.path.join(REPO, 'src')!r})\n"
                    f"from hull.cni.plugins.{module} import main\nsys.exit(main())\n")
        os.chmod(path, 0o755)
    return bindir


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def make_runtime(label, conf, work) -> CNI:
    conf_dir = os.path.join(work, label, "net.d")
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, "10-bench.conflist"), "w") as f:
        json.dump(conf, f)
    return CNI(conf_dir, BIN_DIRS, os.path.join(work, label, "cache"))


def timed(fn, *args, **kwargs) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the plugin processes and their helpers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    fn(*args, **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run_interleaved(runtimes, pairs, with_portmap):
    """ADD every pod, then DEL every pod, alternating the chains call by call so
    that load from elsewhere on the machine hits both alike."""
    timings = {label: ([], []) for label in runtimes}
    for i in range(len(pairs)):
        for label, cni in runtimes.items():
            port = 19000 + i + (0 if label == "hull" else 500)
            caps = {"portMappings": [{"hostPort": port, "containerPort": 80, "protocol": "tcp"}]} if with_portmap else {}
            timings[label][0].append(timed(cni.setup, f"bench{i}", pairs[i][label], capabilities=caps))
    for i in range(len(pairs)):
        for label, cni in runtimes.items():
            timings[label][1].append(timed(cni.teardown, f"bench{i}", pairs[i][label]))
    return timings


def nft_tables() -> set[str]:
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--no-portmap", dest="portmap", action="store_false")
    parser.add_argument("--python", help="run hull's plugins under this Python 3.11")
    opts = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hull-cni-bench-")
    if opts.python:
        BIN_DIRS.insert(0, write_launchers(opts.python, work))
    tables_before = nft_tables()
    pairs = [{label: netns.create_named(f"hull-cni-bench-{os.getpid()}-{label}-{i}") for label in ("hull", "reference")}
             for i in range(opts.pods)]
    chains = {
        "hull": conflist("hull", "hull-bridge", "hull-host-local", "hull-portmap", "hull-loopback", "hull-cni-b0",
                         "10.88.250.0/24", os.path.join(work, "ipam"), opts.portmap),
        "reference": conflist("ref", "bridge", "host-local", "portmap", "loopback", "hull-cni-b1",
                              "10.88.251.0/24", os.path.join(work, "ipam"), opts.portmap),
    }
    try:
        runtimes = {label: make_runtime(label, conf, work) for label, conf in chains.items()}
        timings = run_interleaved(runtimes, pairs, opts.portmap)
    finally:
        for pair in pairs:
            for ns in pair.values():
                netns.remove_named(ns)
        for bridge in ("hull-cni-b0", "hull-cni-b1"):
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip", "hull-cni-bench"], capture_output=True)
        for table in ("ip nat", "ip6 nat"):  # the reference portmap's iptables chains, if it made them
            if f"table {table}" in nft_tables() - tables_before:
                subprocess.run(["nft", "delete", "table", *table.split()], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    chain = "bridge + host-local" + (" + portmap" if opts.portmap else "") + " + loopback"
    print(f"CNI ADD/DEL through hull's runtime, {opts.pods} pods, chain: {chain}, "
          f"hull plugins under {opts.python or 'the .venv launchers'}")
    print(f"{'chain':<11} {'ADD p50':>8} {'ADD p99':>8} {'DEL p50':>8} {'DEL p99':>8} | "
          f"{'ADD cpu':>8} {'DEL cpu':>8}   (ms; cpu = p50 CPU time of the plugin processes)")
    rows = {}
    for label, (adds, dels) in timings.items():
        row = [percentile([w for w, _ in adds], 50), percentile([w for w, _ in adds], 99),
               percentile([w for w, _ in dels], 50), percentile([w for w, _ in dels], 99),
               percentile([c for _, c in adds], 50), percentile([c for _, c in dels], 50)]
        rows[label] = row
        print(f"{label:<11} " + " ".join(f"{1000 * v:>8.1f}" for v in row[:4]) + " | "
              + " ".join(f"{1000 * v:>8.1f}" for v in row[4:]))
    if len(rows) == 2:
        ratios = [h / r if r else float("nan") for h, r in zip(rows["hull"], rows["reference"])]
        print(f"{'hull/ref':<11} " + " ".join(f"{v:>8.2f}" for v in ratios[:4]) + " | "
              + " ".join(f"{v:>8.2f}" for v in ratios[4:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
