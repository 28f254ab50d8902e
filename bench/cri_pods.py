"""Pod lifecycle latency and memory: hulld vs containerd's CRI plugin, same client, one run.

    .venv/bin/python bench/cri_pods.py [--pods 30] [--runtime runc]

Both daemons get their own root, state and socket under a temp dir, a CNI
bridge network each (hull-cri-b0 / hull-cri-b1, reference plugins), and the
same busybox image: hulld builds it with ImageStore.build_rootfs;
containerd imports it with ``ctr -n k8s.io images import`` and uses it as
its ``sandbox_image`` (no pause image exists here). Pods use a private PID
namespace per container, as kubelet asks for v1 pods (``--share-pid``: one
per pod, so hulld runs its infra process too). For each daemon: N
pods are created (RunPodSandbox, CreateContainer, StartContainer timed),
the RSS of the daemon and of the per-container processes (conmon vs
containerd-shim) is read with N pods running, then every pod is torn down
(StopContainer, StopPodSandbox, RemovePodSandbox timed). Prints p50/p99 per
RPC and hull/containerd ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

from hull._generated import api_pb2 as api  # noqa: E402
from hull._generated import api_pb2_grpc as api_grpc  # noqa: E402
from hull.sys import libc  # noqa: E402

IMAGE = "hull.test/bench-busybox:latest"
OPS = ["RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer",
       "StopPodSandbox", "RemovePodSandbox"]


def conflist(bridge: str, subnet: str, datadir: str) -> str:
    return json.dumps({"cniVersion": "1.0.0", "name": f"bench-{bridge}", "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "dataDir": datadir}},
        {"type": "loopback"}]})


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pids_with(needle: str, name: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd and os.path.basename(cmd.split(" ", 1)[0]).startswith(name):
            found.append(int(pid))
    return found


class Daemon:
    name = ""

    def __init__(self, base: str, bridge: str, subnet: str):
        self.base = base
        self.bridge = bridge
        self.conf_dir = os.path.join(base, "net.d")
        os.makedirs(self.conf_dir)
        with open(os.path.join(self.conf_dir, "10-bench.conflist"), "w") as f:
            f.write(conflist(bridge, subnet, os.path.join(base, "ipam")))
        self.socket = os.path.join(base, "cri.sock")
        self.cgroup_parent = f"/hull-cri-bench-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen | None = None

    def connect(self) -> None:
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self.rt = api_grpc.RuntimeServiceStub(self.channel)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.rt.Version(api.VersionRequest(), timeout=2)
                return
            except grpc.RpcError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start; see {self.base}/daemon.log")
                time.sleep(0.1)

    def per_container_pids(self) -> list[int]:
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self) -> None:
        self.stop()
        for pid in self.per_container_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        with open("/proc/self/mountinfo") as f:
            targets = [line.split()[4] for line in f]
        for target in reversed(targets):
            if target.startswith(self.base):
                try:
                    libc.umount(target, libc.MNT_DETACH)
                except OSError:
                    pass
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        for _ in range(20):
            left = []
            for h in os.listdir("/sys/fs/cgroup"):
                top = os.path.join("/sys/fs/cgroup", h, self.cgroup_parent.lstrip("/"))
                if os.path.islink(os.path.join("/sys/fs/cgroup", h)) or not os.path.isdir(top):
                    continue
                for dirpath, _, _ in os.walk(top, topdown=False):
                    try:
                        os.rmdir(dirpath)
                    except OSError:
                        left.append(dirpath)
            if not left:
                break
            time.sleep(0.2)


class HullDaemon(Daemon):
    name = "hulld"

    def __init__(self, base, bridge, subnet, runtime):
        super().__init__(base, bridge, subnet)
        self.runtime = runtime
        self.root = os.path.join(base, "root")

    def start(self) -> None:
        from hull.images import ImageStore
        from hull.testing.busybox import make_rootfs

        rootfs = make_rootfs(os.path.join(self.base, "image-rootfs"))
        ImageStore(self.root).build_rootfs(rootfs, IMAGE, config={
            "Cmd": ["/bin/sleep", "2147483647"]})
        shutil.rmtree(rootfs)
        log = open(os.path.join(self.base, "daemon.log"), "ab")
        self.proc = subprocess.Popen(
            [os.path.join(REPO, ".venv/bin/hulld"), "--root", self.root,
             "--state", os.path.join(self.base, "state"), "--socket", self.socket,
             "--cni-conf-dir", self.conf_dir, "--cni-bin-dir", "/usr/lib/cni",
             "--cgroup-parent", self.cgroup_parent, "--default-runtime", self.runtime,
             "--log-level", "warning"], stdout=log, stderr=log)
        self.connect()

    def per_container_pids(self) -> list[int]:
        return pids_with(self.base, "conmon")


CONTAINERD_CONFIG = """version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.grpc.v1.introspection"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{base}/ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{image}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{conf_dir}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
"""


class ContainerdDaemon(Daemon):
    name = "containerd"

    def start(self) -> None:
        config = os.path.join(self.base, "config.toml")
        with open(config, "w") as f:
            f.write(CONTAINERD_CONFIG.format(base=self.base, socket=self.socket, image=IMAGE,
                                             conf_dir=self.conf_dir))
        log = open(os.path.join(self.base, "daemon.log"), "ab")
        self.proc = subprocess.Popen(["containerd", "--config", config], stdout=log, stderr=log)
        self.connect()
        self.import_image()

    def import_image(self) -> None:
        from hull.testing.registry import build_image

        layout = os.path.join(self.base, "layout")
        build_image(layout, "v1")
        subprocess.run(["umoci", "config", "--image", f"{layout}:v1", "--config.cmd",
                        "/bin/sleep", "--config.cmd", "2147483647"], check=True)
        archive = os.path.join(self.base, "image.tar")
        subprocess.run(["skopeo", "copy", "--quiet", "--insecure-policy", f"oci:{layout}:v1",
                        f"docker-archive:{archive}:{IMAGE}"], check=True)
        subprocess.run(["ctr", "-a", self.socket, "-n", "k8s.io", "images", "import", archive],
                       check=True, capture_output=True)

    def per_container_pids(self) -> list[int]:
        return pids_with(self.socket, "containerd-shim")


SHARE_PID = False


def pod_config(i: int, daemon: Daemon, tag: str) -> api.PodSandboxConfig:
    name = f"bench-{tag}-{i}"
    cfg = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=name, namespace="bench", uid=uuid.uuid4().hex),
        hostname=name, log_directory=os.path.join(daemon.base, "logs", name))
    cfg.linux.cgroup_parent = f"{daemon.cgroup_parent}/pod{i}"
    ns = cfg.linux.security_context.namespace_options
    ns.pid = api.POD if SHARE_PID else api.CONTAINER
    return cfg


def timed(samples: dict, op: str, call, request):
    started = time.perf_counter()
    response = call(request, timeout=120)
    samples[op].append((time.perf_counter() - started) * 1000)
    return response


def drive(daemon: Daemon, n: int, tag: str) -> tuple[dict, dict]:
    samples: dict[str, list[float]] = {op: [] for op in OPS}
    rt = daemon.rt
    pods = []
    for i in range(n):
        cfg = pod_config(i, daemon, tag)
        sid = timed(samples, "RunPodSandbox", rt.RunPodSandbox,
                    api.RunPodSandboxRequest(config=cfg)).pod_sandbox_id
        cc = api.ContainerConfig(metadata=api.ContainerMetadata(name="work"),
                                 image=api.ImageSpec(image=IMAGE),
                                 command=["/bin/sleep", "2147483647"], log_path="work.log")
        cid = timed(samples, "CreateContainer", rt.CreateContainer,
                    api.CreateContainerRequest(pod_sandbox_id=sid, config=cc,
                                               sandbox_config=cfg)).container_id
        timed(samples, "StartContainer", rt.StartContainer,
              api.StartContainerRequest(container_id=cid))
        pods.append((sid, cid))
    time.sleep(1)
    memory = {"daemon_kib": rss_kib(daemon.proc.pid),
              "per_container_kib": sum(rss_kib(p) for p in daemon.per_container_pids()),
              "per_container_processes": len(daemon.per_container_pids()), "pods": n}
    for sid, cid in pods:
        timed(samples, "StopContainer", rt.StopContainer,
              api.StopContainerRequest(container_id=cid, timeout=0))
        timed(samples, "StopPodSandbox", rt.StopPodSandbox,
              api.StopPodSandboxRequest(pod_sandbox_id=sid))
        timed(samples, "RemovePodSandbox", rt.RemovePodSandbox,
              api.RemovePodSandboxRequest(pod_sandbox_id=sid))
    return samples, memory


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report(results: dict) -> None:
    hull, ctrd = results["hulld"], results["containerd"]
    print(f"\n{'RPC':<18}{'hulld p50':>11}{'p99':>9}{'containerd p50':>16}{'p99':>9}"
          f"{'p50 ratio':>11}")
    for op in OPS:
        h50, h99 = pct(hull[0][op], 0.5), pct(hull[0][op], 0.99)
        c50, c99 = pct(ctrd[0][op], 0.5), pct(ctrd[0][op], 0.99)
        print(f"{op:<18}{h50:>9.1f}ms{h99:>7.1f}ms{c50:>14.1f}ms{c99:>7.1f}ms"
              f"{h50 / c50 if c50 else 0:>10.2f}x")
    hm, cm = hull[1], ctrd[1]
    print(f"\nmemory with {hm['pods']} pods running (RSS)")
    print(f"{'':<26}{'hulld':>12}{'containerd':>14}{'ratio':>8}")
    print(f"{'daemon':<26}{hm['daemon_kib'] / 1024:>10.1f}MB{cm['daemon_kib'] / 1024:>12.1f}MB"
          f"{hm['daemon_kib'] / max(cm['daemon_kib'], 1):>7.2f}x")
    hp = hm["per_container_kib"] / max(hm["pods"], 1)
    cp = cm["per_container_kib"] / max(cm["pods"], 1)
    print(f"{'per pod (conmon / shim)':<26}{hp / 1024:>10.2f}MB{cp / 1024:>12.2f}MB"
          f"{hp / max(cp, 1):>7.2f}x")
    print(f"{'monitor processes':<26}{hm['per_container_processes']:>12}"
          f"{cm['per_container_processes']:>14}")
    total_h = (hm["daemon_kib"] + hm["per_container_kib"]) / max(hm["pods"], 1)
    total_c = (cm["daemon_kib"] + cm["per_container_kib"]) / max(cm["pods"], 1)
    print(f"{'(daemon+monitors) per pod':<26}{total_h / 1024:>10.2f}MB{total_c / 1024:>12.2f}MB"
          f"{total_h / max(total_c, 1):>7.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=30)
    parser.add_argument("--runtime", default="runc", help="hulld's handler (runc, hull)")
    parser.add_argument("--share-pid", action="store_true",
                        help="pods share one PID namespace (hulld then runs an infra process)")
    args = parser.parse_args()
    global SHARE_PID
    SHARE_PID = args.share_pid
    if os.geteuid() != 0:
        print("cri_pods: needs root", file=sys.stderr)
        return 1
    results = {}
    work = tempfile.mkdtemp(prefix="hcri-bench-", dir="/tmp")
    try:
        for cls, bridge, subnet, extra in (
                (HullDaemon, "hull-cri-b0", "10.88.201.0/24", (args.runtime,)),
                (ContainerdDaemon, "hull-cri-b1", "10.88.202.0/24", ())):
            base = os.path.join(work, cls.name)
            os.makedirs(base)
            daemon = cls(base, bridge, subnet, *extra)
            try:
                daemon.start()
                print(f"{daemon.name}: driving {args.pods} pods ...", flush=True)
                results[daemon.name] = drive(daemon, args.pods, daemon.name)
            finally:
                daemon.cleanup()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"hulld handler: {args.runtime}; containerd 1.6 with runc (io.containerd.runc.v2); "
          f"pod PID namespace: {'POD (shared, infra process)' if SHARE_PID else 'CONTAINER'}")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
