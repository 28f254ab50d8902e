"""A real hulld for the streaming tests, from the CRI area's kit, with this area's own names.

Reused from tests/integration/cri: the daemon (kit.Hulld), the busybox image and the
pod helper (conftest.Pods). Named here so that running next to the CRI area (same
session or another process) shares nothing: bridge ``hull-crs-t0``, 10.88.220.0/24,
nft table ``hull-crs-pm``, cgroup parent ``/hull-crs-*``, temp dirs ``/tmp/hcrs-*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import tempfile
import uuid

import pytest

from tests.integration.cri import kit
from tests.integration.cri.conftest import Pods

pytestmark = pytest.mark.root

BRIDGE = "hull-crs-t0"
SUBNET = "10.88.220.0/24"
NFT_TABLE = "hull-crs-pm"
TRANSPORTS = ["spdy", "ws"]
LOG_PROBLEMS = ("streaming connection failed", "Task exception was never retrieved",
                "Exception in callback", "was never awaited")


def conflist(ipam_dir: str) -> dict:
    conf = kit.cni_conflist()
    conf["name"] = "hull-crs-test"
    bridge, _, portmap = conf["plugins"]
    bridge["bridge"] = BRIDGE
    bridge["ipam"]["ranges"] = [[{"subnet": SUBNET}]]
    bridge["ipam"]["dataDir"] = ipam_dir
    portmap["nftTable"] = NFT_TABLE
    return conf


@contextlib.contextmanager
def _kit_bridge(name: str):
    """kit.Hulld.remove_everything deletes kit.BRIDGE: point it at ours meanwhile."""
    saved, kit.BRIDGE = kit.BRIDGE, name
    try:
        yield
    finally:
        kit.BRIDGE = saved


class StreamingHulld(kit.Hulld):
    def __init__(self):
        super().__init__(base=tempfile.mkdtemp(prefix="hcrs-", dir="/tmp"))
        self.cgroup_parent = f"/hull-crs-{uuid.uuid4().hex[:8]}"
        for name in os.listdir(self.conf_dir):
            os.unlink(os.path.join(self.conf_dir, name))
        with open(os.path.join(self.conf_dir, "10-hull-crs.conflist"), "w") as f:
            json.dump(conflist(os.path.join(self.base, "ipam")), f)

    def remove_everything(self) -> None:
        with _kit_bridge(BRIDGE):
            super().remove_everything()
        for family in ("ip", "ip6", "inet"):
            subprocess.run(["nft", "delete", "table", family, NFT_TABLE], capture_output=True)


@pytest.fixture(scope="session")
def hulld():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    daemon = StreamingHulld()
    try:
        kit.build_busybox_image(daemon.root)
        daemon.start()
        yield daemon
    finally:
        daemon.remove_everything()


@pytest.fixture
def pods(hulld):
    helper = Pods(hulld)
    yield helper
    helper.cleanup()


@pytest.fixture(autouse=True)
def streaming_log_stays_clean(hulld):
    """No streaming session may end in an unhandled exception inside hulld."""
    path = os.path.join(hulld.base, "hulld.log")
    start = os.path.getsize(path)
    yield
    with open(path, errors="replace") as f:
        f.seek(start)
        new = f.read()
    found = [p for p in LOG_PROBLEMS if p in new]
    assert not found, new[-3000:]


def run(coro, timeout: float = 90.0):
    """Drive one async client scenario to its end."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param
