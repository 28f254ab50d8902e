"""One temp root for the area: hull play starts hulld, hull-csi and the agent in it.

Everything is named hull-play-test-* / hull-pt*: the root, the bridge, the
portmap table, the cgroup parent. The session fixture stops the daemons by
their pid files and removes whatever they left (mounts, processes in our
cgroups, the bridge, the table, the cgroups).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from hull.sys import libc

pytestmark = pytest.mark.root

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
HULL = os.path.join(REPO, ".venv", "bin", "hull")
IMAGE = "hull.test/play-busybox:1"


class Env:
    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.root = tempfile.mkdtemp(prefix="hull-play-test-", dir="/tmp")
        os.chmod(self.root, 0o711)
        self.bridge = f"hull-pt{tag}"
        self.table = f"hull-play-test-{tag}"
        self.cgroup = f"/hull-play-test-{tag}"
        self.env = dict(os.environ, HULL_POD_SUBNET=f"10.89.{random.randint(100, 199)}.0/24",
                        HULL_BRIDGE=self.bridge, HULL_PORTMAP_TABLE=self.table,
                        HULL_CGROUP_PARENT=self.cgroup, HULL_PLAY_BACKOFF_BASE="0.5",
                        HULL_PLAY_BACKOFF_MAX="2")
        self.env.pop("HULL_SOCKET", None)
        self.env.pop("HULL_CSI_SOCKET", None)

    def hull(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([HULL, "--root", self.root, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}{proc.stderr}\n{self.tail('agent')}")
        return proc

    def tail(self, name: str) -> str:
        try:
            with open(os.path.join(self.root, "play", f"{name}.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def manifest(self, name: str, text: str) -> str:
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text.replace("IMAGE", IMAGE))
        return path

    def pods(self) -> list[dict]:
        return json.loads(self.hull("get", "pods", "-A", "-o", "json").stdout)["items"]

    def pod(self, name: str) -> dict:
        return json.loads(self.hull("get", "pods", name, "-o", "json").stdout)

    def wait_for(self, predicate, what: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.tail('agent')}")

    def mounts_under_root(self) -> list[str]:
        with open("/proc/self/mountinfo") as f:
            return [line.split()[4] for line in f if line.split()[4].startswith(self.root)]

    def cleanup(self) -> None:
        from hull.play import daemons
        ep = daemons.Endpoints.for_root(self.root)
        for name in ("agent",):
            daemons.stop_daemon(ep, name)
        sock = ep.socket
        if os.path.exists(sock):   # remove any pod a failed test left, through CRI
            subprocess.run([HULL, "--root", self.root, "down", "--volumes",
                            os.path.join(self.root, "none.yaml")], env=self.env,
                           capture_output=True, timeout=120)
            _remove_all_sandboxes(sock)
        for name in ("hull-csi", "hulld"):
            daemons.stop_daemon(ep, name)
        self._kill_cgroup_processes()
        for target in reversed(self.mounts_under_root()):
            try:
                libc.umount(target, libc.MNT_DETACH)
            except OSError:
                pass
        self._wait_bridge_empty()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        for family in ("ip", "ip6"):
            subprocess.run(["nft", "delete", "table", family, self.table], capture_output=True)
        daemons.remove_cgroup(self.cgroup)
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_bridge_empty(self, timeout: float = 10.0) -> None:
        """Pods' veths go with their netns, which the kernel destroys asynchronously."""
        ports = f"/sys/class/net/{self.bridge}/brif"
        deadline = time.monotonic() + timeout
        while os.path.isdir(ports) and os.listdir(ports) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _kill_cgroup_processes(self) -> None:
        base = os.path.join("/sys/fs/cgroup/pids", self.cgroup.strip("/"))
        for dirpath, _, files in os.walk(base):
            if "cgroup.procs" in files:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    for line in f:
                        try:
                            os.kill(int(line), signal.SIGKILL)
                        except (ProcessLookupError, ValueError):
                            pass


def _remove_all_sandboxes(sock: str) -> None:
    from hull._generated import api_pb2 as api
    from hull.play.daemons import Cri
    cri = Cri(sock)
    try:
        for sb in cri.runtime.ListPodSandbox(api.ListPodSandboxRequest(), timeout=10).items:
            cri.runtime.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
            cri.runtime.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=sb.id),
                                         timeout=60)
    except Exception:
        pass
    finally:
        cri.close()


@pytest.fixture(scope="session")
def play_env():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    env = Env()
    try:
        from hull.images import ImageStore
        from hull.testing.busybox import make_rootfs
        work = tempfile.mkdtemp(prefix="hull-play-test-img-", dir="/tmp")
        try:
            ImageStore(env.root).build_rootfs(make_rootfs(os.path.join(work, "rootfs")), IMAGE,
                                              config={"Cmd": ["/bin/sh"], "Env": [
                                                  "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]})
        finally:
            shutil.rmtree(work, ignore_errors=True)
        yield env
    finally:
        env.cleanup()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def played(play_env):
    """Manifests played in a test are downed (with volumes) after it, even on failure."""
    files: list[str] = []
    yield files
    for path in files:
        play_env.hull("down", "--volumes", path, check=False)
