"""Streaming latency and throughput: hulld vs containerd's CRI streaming server, same client.

    .venv/bin/python bench/cri_streaming.py [--rounds 30] [--runtime runc]

Both daemons come from bench/cri_pods.py (own root, state, socket and CNI
bridge each: hull-crs-b0 / hull-crs-b1). Each gets one pod running busybox
httpd on the pod's 127.0.0.1:8080 serving a 32 MiB file. The client is
hull.testing.streaming, acting as crictl: every exec or forward starts with
the Exec/PortForward RPC for a fresh URL. Measured per daemon:

- exec `true` round trip over SPDY (v4) and over WebSocket (v5 where
  offered, else v4): RPC + upgrade + streams + run + exit status;
- exec stdout throughput: `head -c 64M /dev/zero` over SPDY;
- port-forward: a small GET (RPC + upgrade + dial + reply) and the 32 MiB file.

Prints p50/p99 and MB/s with hull/containerd ratios. Running it also checks
the kit against containerd's (kubelet's) streaming implementation. Whatever
fails, each daemon's pods are stopped and removed through CRI before the
daemon is stopped, so no netns, mount, container or shim outlives the run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

from hull._generated import api_pb2 as api  # noqa: E402
from hull.testing.streaming import PortForward, RemoteCommand, read_all  # noqa: E402

_spec = importlib.util.spec_from_file_location("cri_pods", os.path.join(REPO, "bench",
                                                                        "cri_pods.py"))
pods_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pods_bench)

PORT = 8080
BIG = 32 << 20
EXEC_BYTES = 64 << 20
HTTPD = ["sh", "-c", f"mkdir -p /tmp/www && head -c {BIG} /dev/zero > /tmp/www/big && "
                     f"echo ok > /tmp/www/small && exec httpd -f -p 127.0.0.1:{PORT} -h /tmp/www"]


def start_pod(daemon) -> tuple[str, str]:
    cfg = pods_bench.pod_config(0, daemon, f"stream-{uuid.uuid4().hex[:6]}")
    sid = daemon.rt.RunPodSandbox(api.RunPodSandboxRequest(config=cfg), timeout=120).pod_sandbox_id
    cc = api.ContainerConfig(metadata=api.ContainerMetadata(name="web"),
                             image=api.ImageSpec(image=pods_bench.IMAGE), command=HTTPD,
                             log_path="web.log")
    cid = daemon.rt.CreateContainer(api.CreateContainerRequest(
        pod_sandbox_id=sid, config=cc, sandbox_config=cfg), timeout=120).container_id
    daemon.rt.StartContainer(api.StartContainerRequest(container_id=cid), timeout=120)
    for _ in range(100):
        probe = daemon.rt.ExecSync(api.ExecSyncRequest(
            container_id=cid, cmd=["wget", "-q", "-O", "/dev/null",
                                   f"http://127.0.0.1:{PORT}/small"], timeout=5), timeout=30)
        if probe.exit_code == 0:
            return sid, cid
        time.sleep(0.1)
    raise RuntimeError(f"{daemon.name}: httpd did not come up")


async def exec_once(daemon, cid: str, cmd: list[str], transport: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    url = daemon.rt.Exec(api.ExecRequest(container_id=cid, cmd=cmd, stdout=True,
                                         stderr=True), timeout=30).url
    session = await RemoteCommand.open(url, transport)
    outcome = await session.finish(timeout=120)
    if outcome.exit_code != 0:
        raise RuntimeError(f"{daemon.name}: exec {cmd} failed: {outcome.error!r}")
    return time.perf_counter() - started, len(outcome.stdout), outcome.protocol


async def fetch_once(daemon, sid: str, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    url = daemon.rt.PortForward(api.PortForwardRequest(pod_sandbox_id=sid, port=[PORT]),
                                timeout=30).url
    forward = await PortForward.open_spdy(url)
    data, error = await forward.connect(PORT)
    await data.write(f"GET /{path} HTTP/1.0\r\n\r\n".encode())
    await data.close()
    reply = await read_all(data, timeout=120)
    problem = await read_all(error, timeout=30)
    await forward.close()
    if problem or b" 200 " not in reply.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"{daemon.name}: fetch {path}: {problem!r} {reply[:100]!r}")
    return time.perf_counter() - started, len(reply)


def rpc_baselines(daemon, cid: str, rounds: int, results: dict) -> None:
    """What an exec costs without streaming: the Exec RPC alone, and ExecSync `true`."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        daemon.rt.Exec(api.ExecRequest(container_id=cid, cmd=["true"], stdout=True), timeout=30)
        samples.append(time.perf_counter() - started)
    results["Exec RPC (URL only)"] = samples
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        daemon.rt.ExecSync(api.ExecSyncRequest(container_id=cid, cmd=["true"], timeout=30),
                           timeout=60)
        samples.append(time.perf_counter() - started)
    results["ExecSync true"] = samples


async def measure(daemon, sid: str, cid: str, rounds: int) -> dict:
    results: dict = {}
    rpc_baselines(daemon, cid, rounds, results)
    for transport in ("spdy", "ws"):
        samples = []
        for _ in range(rounds):
            seconds, _, protocol = await exec_once(daemon, cid, ["true"], transport)
            samples.append(seconds)
        results[f"exec true ({transport})"] = samples
        results[f"protocol ({transport})"] = protocol
    rates = []
    for _ in range(3):
        seconds, size, _ = await exec_once(daemon, cid, ["head", "-c", str(EXEC_BYTES),
                                                         "/dev/zero"], "spdy")
        assert size == EXEC_BYTES, size
        rates.append(size / seconds / 1e6)
    results["exec stdout MB/s"] = rates
    results["forward small GET"] = [(await fetch_once(daemon, sid, "small"))[0]
                                    for _ in range(rounds)]
    rates = []
    for _ in range(3):
        seconds, size = await fetch_once(daemon, sid, "big")
        rates.append(size / seconds / 1e6)
    results["forward 32 MiB MB/s"] = rates
    return results


def bench_daemon(daemon, rounds: int) -> dict:
    """Start the daemon, measure one pod, and leave nothing behind, also on failure."""
    try:
        daemon.start()
        try:
            sid, cid = start_pod(daemon)
            print(f"{daemon.name}: measuring ...", flush=True)
            return asyncio.run(measure(daemon, sid, cid, rounds))
        finally:
            remove_pods(daemon)
    finally:
        daemon.cleanup()


def remove_pods(daemon) -> None:
    """Stop and remove every pod of the daemon (it serves this run only), found by listing,
    so a pod whose start failed half way goes too: its netns, mounts and shim or conmon
    with it. A pod that will not go is reported; the original error, if any, wins."""
    try:
        pods = daemon.rt.ListPodSandbox(api.ListPodSandboxRequest(), timeout=30).items
    except grpc.RpcError as e:
        print(f"{daemon.name}: cannot list pods to remove them: {e}", file=sys.stderr)
        return
    for pod in pods:
        try:
            daemon.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=pod.id),
                                     timeout=120)
            daemon.rt.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=pod.id),
                                       timeout=120)
        except grpc.RpcError as e:
            print(f"{daemon.name}: cannot remove pod {pod.id[:12]}: {e}", file=sys.stderr)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report(results: dict) -> None:
    hull, ctrd = results.get("hulld", {}), results.get("containerd", {})
    print(f"{'measure':26} {'hulld p50':>10} {'p99':>8} {'containerd p50':>15} {'p99':>8} "
          f"{'ratio p50':>9}")
    for key, values in hull.items():
        if isinstance(values, str):
            print(f"{key:26} {values:>19} {ctrd.get(key, '-'):>24}")
            continue
        other = ctrd.get(key, [])
        if key.endswith("MB/s"):
            h, c = statistics.median(values), statistics.median(other) if other else 0
            print(f"{key:26} {h:10.0f} {'':>8} {c:15.0f} {'':>8} {h / c if c else 0:9.2f}")
        else:
            h50, h99 = pct(values, .5) * 1e3, pct(values, .99) * 1e3
            c50 = pct(other, .5) * 1e3 if other else 0
            c99 = pct(other, .99) * 1e3 if other else 0
            print(f"{key + ' ms':26} {h50:10.1f} {h99:8.1f} {c50:15.1f} {c99:8.1f} "
                  f"{h50 / c50 if c50 else 0:9.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runtime", default="runc", help="hulld's handler (runc, hull)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("cri_streaming: needs root", file=sys.stderr)
        return 1
    results = {}
    work = tempfile.mkdtemp(prefix="hcrs-bench-", dir="/tmp")
    try:
        for cls, bridge, subnet, extra in (
                (pods_bench.HullDaemon, "hull-crs-b0", "10.88.221.0/24", (args.runtime,)),
                (pods_bench.ContainerdDaemon, "hull-crs-b1", "10.88.222.0/24", ())):
            base = os.path.join(work, cls.name)
            os.makedirs(base)
            daemon = cls(base, bridge, subnet, *extra)
            daemon.cgroup_parent = f"/hull-crs-bench-{uuid.uuid4().hex[:8]}"
            results[daemon.name] = bench_daemon(daemon, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"hulld handler: {args.runtime}; containerd 1.6 with runc; {args.rounds} rounds")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
