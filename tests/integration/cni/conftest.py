"""Fixtures for CNI integration tests: pods are network namespaces named
``hull-cni-test-*``; each test gets its own bridge ``hull-cni-t<N>``, subnet
``10.88.<170+N>.0/24`` and nft tables ``hull-cni-t<N>-*``, all removed at
teardown, also on failure."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import uuid

import pytest

from hull.cni import CNI, nft
from hull.sys import netns

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HULL_BIN = os.path.join(REPO, ".venv", "bin")
REF_BIN = "/usr/lib/cni"
_counter = itertools.count()


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, **kw)


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def in_pod(ns_path: str, *argv, **kw):
    return sh("nsenter", f"--net={ns_path}", *argv, **kw)


class NetEnv:
    """One test network: conf dir, bridge, subnet, nft tables, IPAM dir, cache."""

    def __init__(self, tmp_path, index: int):
        self.index = index
        self.bridge = f"hull-cni-t{index}"
        self.subnet_prefix = f"10.88.{170 + index}"
        self.subnet = f"{self.subnet_prefix}.0/24"
        self.portmap_table = f"hull-cni-t{index}-pm"
        self.masq_table = f"hull-cni-t{index}-masq"
        self.conf_dir = tmp_path / "net.d"
        self.conf_dir.mkdir()
        self.ipam_dir = str(tmp_path / "ipam")
        self.cache_dir = str(tmp_path / "cache")
        self.name = f"hull-cni-test{index}"
        self.bin_dirs = [HULL_BIN, REF_BIN]

    def ipam(self, kind="hull-host-local", ranges=None, **extra):
        return {"type": kind, "dataDir": self.ipam_dir, "ranges": ranges or [[{"subnet": self.subnet}]], **extra}

    def bridge_conf(self, kind="hull-bridge", ipam=None, **extra):
        conf = {"type": kind, "bridge": self.bridge, "isGateway": True, "isDefaultGateway": True,
                "ipam": ipam or self.ipam(), **extra}
        if kind == "hull-bridge":
            conf["masqTable"] = self.masq_table
        return conf

    def portmap_conf(self, kind="hull-portmap"):
        return {"type": kind, "capabilities": {"portMappings": True}, "nftTable": self.portmap_table}

    def hull_chain(self, **bridge_extra):
        return [self.bridge_conf(**bridge_extra), self.portmap_conf(), {"type": "hull-loopback"}]

    def write(self, plugins, version="1.0.0", filename="10-test.conflist", **extra):
        data = {"cniVersion": version, "name": self.name, "plugins": plugins, **extra}
        (self.conf_dir / filename).write_text(json.dumps(data))
        return data

    def cni(self, timeout=30.0, bin_dirs=None) -> CNI:
        return CNI(str(self.conf_dir), bin_dirs or self.bin_dirs, self.cache_dir, timeout=timeout)

    def ip_files(self) -> list[str]:
        path = os.path.join(self.ipam_dir, self.name)
        return sorted(n for n in os.listdir(path) if n[0].isdigit() or ":" in n) if os.path.isdir(path) else []

    def nft_tables(self) -> list[str]:
        return [line for line in sh("nft", "list", "tables").stdout.splitlines()
                if f"hull-cni-t{self.index}-" in line]

    def cleanup(self) -> None:
        for line in self.nft_tables():
            sh("nft", "delete", *line.split(), check=False)  # "table <family> <name>"
        for family in ("ip", "ip6"):   # the tables' flock files, if a failed run left them
            for table in (self.portmap_table, self.masq_table):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(nft.LOCK_DIR, f"{family}-{table}.lock"))
        if link_exists(self.bridge):
            # veths of pods whose netns is being destroyed asynchronously: remove them now
            for port in os.listdir(f"/sys/class/net/{self.bridge}/brif"):
                sh("ip", "link", "del", port, check=False)
            sh("ip", "link", "del", self.bridge, check=False)


@pytest.fixture
def net(tmp_path):
    env = NetEnv(tmp_path, next(_counter) % 60)
    env.cleanup()  # a previous crashed run may have left them
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def pods():
    """``pods()`` -> a new pod netns path; all removed at teardown."""
    made = []

    def make() -> str:
        path = netns.create_named(f"hull-cni-test-{uuid.uuid4().hex[:8]}")
        made.append(path)
        return path
    try:
        yield make
    finally:
        for path in made:
            netns.remove_named(path)


@pytest.fixture
def servers():
    """``serve(ns_path, port, reply)`` starts a one-shot TCP server in a pod."""
    procs = []

    def serve(ns_path: str, port: int, reply: str):
        proc = subprocess.Popen(["nsenter", f"--net={ns_path}", "busybox", "nc", "-l", "-p", str(port),
                                 "-e", "echo", reply], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        for _ in range(100):  # wait until it listens
            if in_pod(ns_path, "busybox", "netstat", "-ltn", check=False).stdout.count(f":{port} "):
                return proc
            subprocess.run(["sleep", "0.05"])
        return proc
    try:
        yield serve
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
