"""Fixtures: a real ``hull-csi`` process on a unix socket, a gRPC client,
and cleanup of every mount and loop device under the test's root, also
when a test fails half-way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from hull._generated import csi_pb2_grpc as rpc
from hull.csi import mounts
from hull.sys import loop

NODE_ID = "hull-csi-test-node"
MODE = pb.VolumeCapability.AccessMode


def mount_cap(fs_type: str = "", mode: int = MODE.SINGLE_NODE_WRITER, flags=()):
    return pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(
        fs_type=fs_type, mount_flags=list(flags)), access_mode=MODE(mode=mode))


def block_cap(mode: int = MODE.SINGLE_NODE_WRITER):
    return pb.VolumeCapability(block=pb.VolumeCapability.BlockVolume(),
                               access_mode=MODE(mode=mode))


class Plugin:
    """One hull-csi process, restartable, and stubs for its services."""

    def __init__(self, base: str, extra_args=()):
        self.base = base
        self.root = os.path.join(base, "root")
        self.socket = os.path.join(base, "csi.sock")
        self.log = os.path.join(base, "driver.log")
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None
        self.channel = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "hull.cli.csi", "--endpoint", f"unix://{self.socket}",
                "--node-id", NODE_ID, "--root", self.root, "--log-level", "debug",
                *self.extra_args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.identity = rpc.IdentityStub(self.channel)
        self.controller = rpc.ControllerStub(self.channel)
        self.group = rpc.GroupControllerStub(self.channel)
        self.node = rpc.NodeStub(self.channel)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    # ---- helpers used by many tests ----

    def create(self, name: str, size: int = 64 << 20, backend: str = "dir", caps=None,
               **kwargs):
        request = pb.CreateVolumeRequest(
            name=name, volume_capabilities=caps or [mount_cap()],
            parameters={"backend": backend}, **kwargs)
        request.capacity_range.required_bytes = size
        return self.controller.CreateVolume(request).volume

    def stage(self, volume_id: str, path: str, cap=None):
        os.makedirs(path, exist_ok=True)
        return self.node.NodeStageVolume(pb.NodeStageVolumeRequest(
            volume_id=volume_id, staging_target_path=path, volume_capability=cap or mount_cap()))

    def publish(self, volume_id: str, staging: str, target: str, cap=None, readonly=False):
        return self.node.NodePublishVolume(pb.NodePublishVolumeRequest(
            volume_id=volume_id, staging_target_path=staging, target_path=target,
            volume_capability=cap or mount_cap(), readonly=readonly))

    def unpublish(self, volume_id: str, target: str):
        return self.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
            volume_id=volume_id, target_path=target))

    def unstage(self, volume_id: str, staging: str):
        return self.node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(
            volume_id=volume_id, staging_target_path=staging))

    def delete(self, volume_id: str):
        return self.controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=volume_id))


def cleanup_kernel_objects(base: str) -> None:
    """Unmount everything under ``base`` and detach loop devices backed there."""
    for point in mounts.mounts_under(base):
        mounts.unmount(point)
    for name in sorted(os.listdir("/sys/block")):
        backing = loop.backing_file(name)
        if backing and backing.startswith(base):
            loop.detach(f"/dev/{name}")


@pytest.fixture
def plugin_factory():
    made: list[Plugin] = []

    def make(*extra_args) -> Plugin:
        base = f"/tmp/hull-csi-test-{uuid.uuid4().hex[:10]}"
        os.makedirs(base)
        plugin = Plugin(base, extra_args)
        made.append(plugin)
        plugin.start()
        return plugin

    yield make
    for plugin in made:
        plugin.stop()
        cleanup_kernel_objects(plugin.base)
        shutil.rmtree(plugin.base, ignore_errors=True)


@pytest.fixture
def plugin(plugin_factory) -> Plugin:
    return plugin_factory("--max-volumes-per-node", "3", "--mutable-parameters", "iops,tier")


def code_of(call, *args) -> grpc.StatusCode:
    """Run a stub call expected to fail; its status code."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args)
    return info.value.code()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
