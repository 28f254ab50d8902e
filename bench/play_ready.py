"""How fast `hull play` gets pods ready, and how fast `hull get pods` answers.

    sudo .venv/bin/python bench/play_ready.py [--runs 7] [--list-pods 50]

Cases (daemons already running, as on a node; each run plays and downs a file):
  - one pod, no volume: `hull play --wait` until Ready (network included)
  - one pod with a PersistentVolumeClaim (CreateVolume + stage + publish included)
  - ten pods in one manifest
  - `hull get pods` with --list-pods pods running

The peer row is the floor under `hull play`: the same pod made by direct
CRI calls against the same hulld (RunPodSandbox, CreateContainer,
StartContainer; no YAML, no agent, no CLI start-up). No podman or kubelet
is installed here; their equivalent path (kube play, or the API server +
kubelet) sits on top of a CRI floor the same way.
Target: single pod ready < 1 s including network and volume.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

HULL = os.path.join(REPO, ".venv", "bin", "hull")
IMAGE = "hull.bench/busybox:1"
NETWORK = {"HULL_POD_SUBNET": "10.89.253.0/24", "HULL_BRIDGE": "hull-pbench0",
           "HULL_PORTMAP_TABLE": "hull-play-bench", "HULL_CGROUP_PARENT": "/hull-play-bench"}

POD = """---
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: IMAGE, command: [sleep, "100000"]VOLUMEMOUNT}]
VOLUMES"""

CLAIM = """---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: CLAIM}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
"""


def manifest(names: list[str], claim: str = "") -> str:
    out = []
    for name in names:
        text = POD.replace("NAME", name).replace("IMAGE", IMAGE)
        if claim:
            text = text.replace("VOLUMEMOUNT", ", volumeMounts: [{name: d, mountPath: /d}]")
            text = text.replace("VOLUMES", "  volumes: [{name: d, persistentVolumeClaim: "
                                           f"{{claimName: {claim}}}}}]\n")
            out.append(CLAIM.replace("CLAIM", claim))
        else:
            text = text.replace("VOLUMEMOUNT", "").replace("VOLUMES", "")
        out.append(text)
    return "".join(out)


class Bench:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="hull-play-bench-", dir="/tmp")
        os.chmod(self.root, 0o711)
        self.env = dict(os.environ, **NETWORK)

    def hull(self, *args: str) -> float:
        start = time.perf_counter()
        proc = subprocess.run([HULL, "--root", self.root, *args], env=self.env,
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"hull {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return elapsed

    def write(self, text: str) -> str:
        path = os.path.join(self.root, f"m-{uuid.uuid4().hex[:6]}.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def setup(self) -> None:
        from hull.images import ImageStore
        from hull.testing.busybox import make_rootfs
        work = tempfile.mkdtemp(prefix="hull-play-bench-img-", dir="/tmp")
        try:
            ImageStore(self.root).build_rootfs(make_rootfs(os.path.join(work, "r")), IMAGE,
                                               config={"Cmd": ["/bin/sh"]})
        finally:
            shutil.rmtree(work, ignore_errors=True)
        warm = self.write(manifest(["warm"], claim="warm"))
        self.hull("play", warm, "--wait")       # starts hulld, hull-csi and the agent
        self.hull("down", "--volumes", warm)

    def play_case(self, names: list[str], claim: str = "", runs: int = 7) -> list[float]:
        times = []
        for i in range(runs):
            path = self.write(manifest([f"{n}-{i}" for n in names],
                                       claim=f"{claim}-{i}" if claim else ""))
            times.append(self.hull("play", path, "--wait"))
            self.hull("down", "--volumes", path)
        return times

    def cri_floor(self, runs: int) -> list[float]:
        from hull._generated import api_pb2 as api
        from hull.play.daemons import Cri, Endpoints
        cri = Cri(Endpoints.for_root(self.root).socket)
        times = []
        for i in range(runs):
            uid = uuid.uuid4().hex
            cfg = api.PodSandboxConfig(metadata=api.PodSandboxMetadata(
                name=f"floor-{i}", namespace="default", uid=uid), hostname="floor",
                log_directory=os.path.join(self.root, "floor-logs", uid))
            cfg.linux.security_context.namespace_options.pid = api.CONTAINER
            start = time.perf_counter()
            sid = cri.runtime.RunPodSandbox(api.RunPodSandboxRequest(config=cfg),
                                            timeout=60).pod_sandbox_id
            cid = cri.runtime.CreateContainer(api.CreateContainerRequest(
                pod_sandbox_id=sid, sandbox_config=cfg, config=api.ContainerConfig(
                    metadata=api.ContainerMetadata(name="c"), image=api.ImageSpec(image=IMAGE),
                    command=["sleep", "100000"], log_path="c.log")), timeout=60).container_id
            cri.runtime.StartContainer(api.StartContainerRequest(container_id=cid), timeout=60)
            times.append(time.perf_counter() - start)
            cri.runtime.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
            cri.runtime.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=sid),
                                         timeout=60)
        cri.close()
        return times

    def list_case(self, pods: int, runs: int) -> list[float]:
        path = self.write(manifest([f"list-{i}" for i in range(pods)]))
        self.hull("play", path, "--wait", "--timeout", "600")
        try:
            return [self.hull("get", "pods") for _ in range(runs)]
        finally:
            self.hull("down", path, "--timeout", "600")

    def cleanup(self) -> None:
        from hull.play import daemons
        daemons.stop_all(daemons.Endpoints.for_root(self.root))
        subprocess.run(["ip", "link", "del", NETWORK["HULL_BRIDGE"]], capture_output=True)
        for family in ("ip", "ip6"):
            subprocess.run(["nft", "delete", "table", family, NETWORK["HULL_PORTMAP_TABLE"]],
                           capture_output=True)
        daemons.remove_cgroup(NETWORK["HULL_CGROUP_PARENT"])
        shutil.rmtree(self.root, ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def row(name: str, values: list[float], floor: list[float] | None = None) -> str:
    p50 = statistics.median(values)
    ratio = f"{p50 / statistics.median(floor):.2f}x" if floor else ""
    return (f"{name:<38} {len(values):>4} {p50 * 1000:>9.0f} {pct(values, 0.99) * 1000:>9.0f} "
            f"{min(values) * 1000:>9.0f} {ratio:>8}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--list-pods", type=int, default=50)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: run as root", file=sys.stderr)
        return 1
    bench = Bench()
    try:
        bench.setup()
        floor = bench.cri_floor(args.runs)
        single = bench.play_case(["one"], runs=args.runs)
        claim = bench.play_case(["pvc"], claim="data", runs=args.runs)
        ten = bench.play_case([f"ten{i}" for i in range(10)], runs=max(3, args.runs // 2))
        listing = bench.list_case(args.list_pods, args.runs * 3)
    finally:
        bench.cleanup()
    print(f"{'case (ms)':<38} {'runs':>4} {'p50':>9} {'p99':>9} {'min':>9} {'vs floor':>8}")
    print(row("CRI floor: sandbox+create+start", floor))
    print(row("hull play --wait: 1 pod", single, floor))
    print(row("hull play --wait: 1 pod + PVC", claim, floor))
    print(row("hull play --wait: 10 pods", ten, floor))
    print(row(f"hull get pods ({args.list_pods} pods)", listing))
    print(f"\ntarget: 1 pod ready < 1000 ms incl. network and volume: "
          f"{'met' if statistics.median(claim) < 1.0 else 'NOT met'} "
          f"(p50 {statistics.median(claim) * 1000:.0f} ms with a PVC)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
