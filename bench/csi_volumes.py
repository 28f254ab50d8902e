#!/usr/bin/env python3
"""hull-csi volume latency and loop-volume write throughput.

Runs a real ``hull-csi`` on a unix socket and, from a gRPC client, times
over N volumes per backend: CreateVolume, NodeStage+NodePublish,
NodeUnpublish+NodeUnstage, DeleteVolume (p50/p99). Then writes a file
sequentially (1 MiB blocks, fsync at the end, like ``dd conv=fsync``)
inside a published loop volume and on the host filesystem holding the
images, and prints the ratio.

csi-driver-host-path (Go) is not installed on this machine, so its column
is the reference figures measured for it here (issue 6): CreateVolume
~1 ms, NodePublishVolume ~12 ms for directory volumes.

    sudo .venv/bin/python bench/csi_volumes.py [--volumes 30] [--write-mib 512]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from hull._generated import csi_pb2 as pb  # noqa: E402
from hull._generated import csi_pb2_grpc as rpc  # noqa: E402

REFERENCE_MS = {"CreateVolume": 1.0, "NodeStage+NodePublish": 12.0}
CAP = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(),
                          access_mode=pb.VolumeCapability.AccessMode(mode=1))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Driver:
    def __init__(self, base: str):
        self.base = base
        socket = f"{base}/csi.sock"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hull.cli.csi", "--endpoint", f"unix://{socket}",
             "--node-id", "bench", "--root", f"{base}/root", "--log-level", "warning"],
            env={**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..",
                                                          "src")})
        self.channel = grpc.insecure_channel(f"unix://{socket}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.controller = rpc.ControllerStub(self.channel)
        self.node = rpc.NodeStub(self.channel)
        self.identity = rpc.IdentityStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def lifecycle(driver: Driver, backend: str, count: int, size: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in (
        "CreateVolume", "NodeStage+NodePublish", "NodeUnpublish+NodeUnstage", "DeleteVolume")}
    for i in range(count):
        request = pb.CreateVolumeRequest(name=f"hull-csi-bench-{backend}-{i}",
                                         volume_capabilities=[CAP],
                                         parameters={"backend": backend})
        request.capacity_range.required_bytes = size
        holder = {}
        times["CreateVolume"].append(timed(
            lambda: holder.update(v=driver.controller.CreateVolume(request).volume)))
        vid = holder["v"].volume_id
        staging, target = f"{driver.base}/s-{backend}-{i}", f"{driver.base}/t-{backend}-{i}"
        os.makedirs(staging)

        def up():
            driver.node.NodeStageVolume(pb.NodeStageVolumeRequest(
                volume_id=vid, staging_target_path=staging, volume_capability=CAP))
            driver.node.NodePublishVolume(pb.NodePublishVolumeRequest(
                volume_id=vid, staging_target_path=staging, target_path=target,
                volume_capability=CAP))

        def down():
            driver.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
                volume_id=vid, target_path=target))
            driver.node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(
                volume_id=vid, staging_target_path=staging))

        times["NodeStage+NodePublish"].append(timed(up))
        times["NodeUnpublish+NodeUnstage"].append(timed(down))
        times["DeleteVolume"].append(timed(
            lambda: driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=vid))))
    return times


def write_mib_s(path: str, mib: int) -> float:
    block = os.urandom(1 << 20)
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(mib):
            os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - start
    os.unlink(path)
    return mib / elapsed


def throughput(driver: Driver, mib: int, rounds: int) -> tuple[float, float]:
    request = pb.CreateVolumeRequest(name="hull-csi-bench-throughput", volume_capabilities=[CAP],
                                     parameters={"backend": "loop"})
    request.capacity_range.required_bytes = (mib + 256) << 20
    vid = driver.controller.CreateVolume(request).volume.volume_id
    staging, target = f"{driver.base}/s-tp", f"{driver.base}/t-tp"
    os.makedirs(staging)
    driver.node.NodeStageVolume(pb.NodeStageVolumeRequest(
        volume_id=vid, staging_target_path=staging, volume_capability=CAP))
    driver.node.NodePublishVolume(pb.NodePublishVolumeRequest(
        volume_id=vid, staging_target_path=staging, target_path=target, volume_capability=CAP))
    host_dir = f"{driver.base}/root"
    loop_runs, host_runs = [], []
    try:
        for _ in range(rounds):  # interleaved so drift hits both alike
            host_runs.append(write_mib_s(f"{host_dir}/bench.dat", mib))
            loop_runs.append(write_mib_s(f"{target}/bench.dat", mib))
    finally:
        driver.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
            volume_id=vid, target_path=target))
        driver.node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(
            volume_id=vid, staging_target_path=staging))
        driver.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=vid))
    return statistics.median(loop_runs), statistics.median(host_runs)


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=30)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--write-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="hull-csi-bench-", dir="/tmp")
    driver = Driver(base)
    try:
        print(f"hull-csi, {args.volumes} volumes per backend; load average {_load()}")
        print(f"{'backend':<6} {'call':<27} {'p50 ms':>8} {'p99 ms':>8} {'hostpath p50':>13} "
              f"{'ratio':>6}")
        floor = [timed(lambda: driver.identity.GetPluginInfo(pb.GetPluginInfoRequest()))
                 for _ in range(200)]
        print(f"{'-':<6} {'GetPluginInfo (transport)':<27} {percentile(floor, 0.5):>8.2f} "
              f"{percentile(floor, 0.99):>8.2f} {'-':>13} {'-':>6}")
        for backend in ("dir", "loop"):
            for call, values in lifecycle(driver, backend, args.volumes,
                                          args.size_mib << 20).items():
                p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
                ref = REFERENCE_MS.get(call) if backend == "dir" else None
                ratio = f"{p50 / ref:.2f}" if ref else "-"
                print(f"{backend:<6} {call:<27} {p50:>8.2f} {p99:>8.2f} "
                      f"{(f'{ref:.1f}' if ref else '-'):>13} {ratio:>6}")
        loop_rate, host_rate = throughput(driver, args.write_mib, args.rounds)
        print(f"\nsequential write {args.write_mib} MiB + fsync (median of {args.rounds}):")
        print(f"  loop volume {loop_rate:8.1f} MiB/s   host fs {host_rate:8.1f} MiB/s   "
              f"ratio {loop_rate / host_rate:.2f} (target >= 0.80)")
        print(f"load average at the end {_load()}")
    finally:
        driver.close()
        subprocess.run(["umount", "-R", base], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
