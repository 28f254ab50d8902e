"""A real hulld process for tests: temp root/state/socket, a test CNI network, cleanup."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import tempfile
import time
import uuid

import grpc

from hull._generated import api_pb2 as api
from hull._generated import api_pb2_grpc as api_grpc
from hull.sys import libc, mountinfo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
BRIDGE = "hull-cri-t0"
SUBNET = "10.88.200.0/24"
IMAGE = "hull.test/cri-busybox:latest"


def cni_conflist() -> dict:
    return {"cniVersion": "1.0.0", "name": "hull-cri-test", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET}]],
                  "dataDir": "DATADIR"}},
        {"type": "loopback"},
        {"type": "hull-portmap", "capabilities": {"portMappings": True},
         "nftTable": "hull-cri-pm"}]}


class Hulld:
    """One hulld process and the client stubs that talk to it."""

    def __init__(self, base: str | None = None,
                 runtime: str = os.environ.get("HULL_CRI_TEST_RUNTIME", "runc")):
        self.base = base or tempfile.mkdtemp(prefix="hcri-", dir="/tmp")
        os.chmod(self.base, 0o711)   # user-namespaced containers traverse it
        self.root = os.path.join(self.base, "root")
        self.state = os.path.join(self.base, "state")
        self.socket = os.path.join(self.base, "hull.sock")
        self.conf_dir = os.path.join(self.base, "net.d")
        self.log_dir = os.path.join(self.base, "logs")
        self.cgroup_parent = f"/hull-cri-test-{uuid.uuid4().hex[:8]}"
        self.runtime = runtime
        self.proc: subprocess.Popen | None = None
        self.channel = None
        os.makedirs(self.conf_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        conf = json.dumps(cni_conflist()).replace("DATADIR", os.path.join(self.base, "ipam"))
        with open(os.path.join(self.conf_dir, "10-hull-cri-test.conflist"), "w") as f:
            f.write(conf)

    def argv(self) -> list[str]:
        return [os.path.join(REPO, ".venv/bin/hulld"), "--root", self.root, "--state", self.state,
                "--socket", self.socket, "--cni-conf-dir", self.conf_dir,
                "--cni-bin-dir", "/usr/lib/cni", "--cni-bin-dir", os.path.join(REPO, ".venv/bin"),
                "--cgroup-parent", self.cgroup_parent,
                "--default-runtime", self.runtime, "--log-level", "debug"]

    def start(self) -> "Hulld":
        self.log = open(os.path.join(self.base, "hulld.log"), "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=self.log)
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self.runtime_stub = api_grpc.RuntimeServiceStub(self.channel)
        self.image_stub = api_grpc.ImageServiceStub(self.channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.runtime_stub.Version(api.VersionRequest(), timeout=1)
                return self
            except grpc.RpcError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hulld did not start:\n{self.log_text()}")
                time.sleep(0.1)

    def log_text(self) -> str:
        with open(os.path.join(self.base, "hulld.log"), errors="replace") as f:
            return f.read()[-4000:]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.channel:
            self.channel.close()
            self.channel = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # cleanup of everything hulld may have left, by path and pid

    def remove_everything(self) -> None:
        if self.proc:
            try:
                for sb in self.runtime_stub.ListPodSandbox(api.ListPodSandboxRequest(),
                                                           timeout=30).items:
                    self.runtime_stub.StopPodSandbox(
                        api.StopPodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
                    self.runtime_stub.RemovePodSandbox(
                        api.RemovePodSandboxRequest(pod_sandbox_id=sb.id), timeout=60)
            except grpc.RpcError:
                pass
        self.stop()
        self.kill_leftover_processes()
        self.unmount_leftovers()
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        self.remove_cgroups()
        shutil.rmtree(self.base, ignore_errors=True)

    def kill_leftover_processes(self) -> None:
        needle = self.base.encode()
        for _ in range(3):
            found = []
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if needle in f.read():
                            found.append(int(pid))
                except OSError:
                    continue
            for pid in found:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            # container processes live in our cgroups: kill them by pid too
            for path in self._cgroup_dirs():
                for procs in ("cgroup.procs",):
                    try:
                        with open(os.path.join(path, procs)) as f:
                            for line in f:
                                try:
                                    os.kill(int(line), signal.SIGKILL)
                                except (ProcessLookupError, ValueError):
                                    pass
                    except OSError:
                        pass
            if not found:
                return
            time.sleep(0.3)

    def unmount_leftovers(self) -> None:
        targets = [m.mountpoint for m in mountinfo.entries()]
        for target in reversed(targets):
            if target.startswith(self.base):
                try:
                    libc.umount(target, libc.MNT_DETACH)
                except OSError:
                    pass

    def _cgroup_dirs(self) -> list[str]:
        found = []
        top = "/sys/fs/cgroup"
        for h in os.listdir(top):
            base = os.path.join(top, h, self.cgroup_parent.lstrip("/"))
            if os.path.isdir(base) and not os.path.islink(os.path.join(top, h)):
                for dirpath, dirnames, _ in os.walk(base, topdown=False):
                    found.append(dirpath)
        return found

    def remove_cgroups(self) -> None:
        for _ in range(20):
            left = self._cgroup_dirs()
            for path in left:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
            if not self._cgroup_dirs():
                return
            time.sleep(0.1)


def build_busybox_image(root: str, name: str = IMAGE, config: dict | None = None):
    from hull.images import ImageStore
    from hull.testing.busybox import make_rootfs

    work = tempfile.mkdtemp(prefix="hcri-img-", dir="/tmp")
    try:
        rootfs = make_rootfs(os.path.join(work, "rootfs"))
        return ImageStore(root).build_rootfs(rootfs, name, config=config or {
            "Cmd": ["/bin/sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FROM_IMAGE=1"],
            "WorkingDir": "/"})
    finally:
        shutil.rmtree(work, ignore_errors=True)



