"""A Python port of csi-sanity's harness (kubernetes-csi/csi-test pkg/sanity:
sanity.go, resources.go): a real ``hull-csi`` on a unix socket per backend,
a TestContext carrying csi-sanity's configuration, and ``Resources``, which
registers every created volume, controller publication and snapshot and
cleans them up LIFO after each test exactly as csi-sanity's
``Resources.Cleanup`` does (its errors fail the test).

Backends are chosen the way csi-sanity's ``--csi.testvolumeparameters``
file chooses them: CreateVolume parameters (``{}`` = the driver's default
``dir``, ``{backend: loop}``, ``{backend: loop, fsType: xfs}``), and raw
block volumes the way ``--csi.testvolumeaccesstype=block`` asks for them. ``--csi.testvolumemutableparametersfile`` is
``{iops: "3000"}`` with the driver started with ``--mutable-parameters
iops,tier``; ``--csi.testnodevolumeattachlimit`` is on with
``--max-volumes-per-node 4``. Everything else is csi-sanity's default:
10 GiB volumes, +1 GiB expansion, idempotent count 10, mount volumes,
staging and target directories made with mkdir (its default
createMountTargetLocation), or, in the ``cmd`` variant, made by an external
command and checked by another (``--csi.createmountpathcmd`` /
``--csi.checkpathcmd``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import uuid

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from hull._generated import csi_pb2_grpc as rpc
from hull.csi import mounts
from hull.sys import loop

GiB = 1 << 30
PREFIX = "hull-csi-sanity"
NODE_ID = f"{PREFIX}-node"
MODE = pb.VolumeCapability.AccessMode
CRPC = pb.ControllerServiceCapability.RPC
NRPC = pb.NodeServiceCapability.RPC
GRPC_ = pb.GroupControllerServiceCapability.RPC

# csi-sanity runs: --csi.testvolumeparameters and --csi.testvolumeaccesstype
# per driver configuration (dir has no raw block volumes, so no dir-block).
BACKENDS = {
    "dir": ({}, "mount"),
    "loop": ({"backend": "loop"}, "mount"),
    "loop-xfs": ({"backend": "loop", "fsType": "xfs"}, "mount"),
    "loop-block": ({"backend": "loop"}, "block"),
}
MUTABLE = {"iops": "3000"}
ATTACH_LIMIT = 4

# --csi.createmountpathcmd / --csi.checkpathcmd in the "cmd" variant: the
# shapes of csi-sanity's own example scripts (print the made path; print
# file|directory|not_found|other).
CREATE_PATH_CMD = 'mktemp -d "$1.XXXXXX"'
CHECK_PATH_CMD = ('if [ -f "$1" ]; then echo file; elif [ -d "$1" ]; then echo directory; '
                  'elif [ -e "$1" ]; then echo other; else echo not_found; fi')


# csi-sanity's uniqueSuffix: one per process, so UniqueString("x") is the
# same name in every spec of a run (names are reused after cleanup deletes
# them, as they are under csi-sanity).
UNIQUE_SUFFIX = "-" + uuid.uuid4().hex[:8].upper() + "-" + uuid.uuid4().hex[:8].upper()


def unique_string(prefix: str) -> str:
    """csi-sanity's UniqueString: the prefix plus the per-run suffix."""
    return prefix + UNIQUE_SUFFIX


def unique_string_with_length(prefix: str, length: int) -> str:
    """csi-sanity's UniqueStringWithLength: padded to exactly ``length``."""
    return (unique_string(prefix) + "x" * length)[:length]


class IDGen:
    """csi-sanity's DefaultIDGenerator."""

    @staticmethod
    def unique_valid_volume_id() -> str:
        return f"fake-vol-id-{uuid.uuid4().hex[:8]}"

    @staticmethod
    def invalid_volume_id() -> str:
        return "fake-vol-id"

    @staticmethod
    def unique_valid_node_id() -> str:
        return f"fake-node-id-{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass
class Config:
    test_volume_parameters: dict
    test_volume_size: int = 10 * GiB
    test_volume_expand_size: int = 0
    idempotent_count: int = 10
    test_volume_mutable_parameters: dict = dataclasses.field(default_factory=lambda: dict(MUTABLE))
    test_snapshot_parameters: dict = dataclasses.field(default_factory=dict)
    test_node_volume_attach_limit: bool = True
    test_volume_access_type: str = "mount"
    path_mode: str = "mkdir"  # or "cmd"


class Driver:
    """One hull-csi process under a base directory named for this suite."""

    def __init__(self, backend: str):
        self.backend = backend
        self.base = f"/tmp/{PREFIX}-{backend}-{uuid.uuid4().hex[:8]}"
        os.makedirs(self.base)
        self.root = os.path.join(self.base, "root")
        self.socket = os.path.join(self.base, "csi.sock")
        self.log = os.path.join(self.base, "driver.log")
        argv = [sys.executable, "-m", "hull.cli.csi", "--endpoint", f"unix://{self.socket}",
                "--node-id", NODE_ID, "--root", self.root, "--log-level", "debug",
                "--max-volumes-per-node", str(ATTACH_LIMIT),
                "--mutable-parameters", "iops,tier"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.identity = rpc.IdentityStub(self.channel)
        self.controller = rpc.ControllerStub(self.channel)
        self.group = rpc.GroupControllerStub(self.channel)
        self.node = rpc.NodeStub(self.channel)

    def leftovers(self) -> list[str]:
        """What a whole csi-sanity run left behind in the driver: every spec
        cleans up after itself, so nothing may remain."""
        left = [f"volume {e.volume.volume_id}" for e in
                self.controller.ListVolumes(pb.ListVolumesRequest()).entries]
        left += [f"snapshot {e.snapshot.snapshot_id}" for e in
                 self.controller.ListSnapshots(pb.ListSnapshotsRequest()).entries]
        left += [f"mount {m}" for m in mounts.mounts_under(self.base)]
        left += [f"loop device {n}" for n in sorted(os.listdir("/sys/block"))
                 if (loop.backing_file(n) or "").startswith(self.base + "/")]
        return left

    def stop(self) -> None:
        self.channel.close()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        release_kernel_objects(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def release_kernel_objects(base: str) -> None:
    """Unmount everything under ``base``, detach loop devices backed there."""
    for point in mounts.mounts_under(base):
        mounts.unmount(point)
    for name in sorted(os.listdir("/sys/block")):
        backing = loop.backing_file(name)
        if backing and backing.startswith(base + "/"):
            loop.detach(f"/dev/{name}")


def _code(err: grpc.RpcError) -> grpc.StatusCode:
    return err.code()


class Resources:
    """csi-sanity's Resources: the only way tests talk to the driver, so
    that everything created is cleaned up (LIFO) after the test."""

    def __init__(self, sc: "TestContext"):
        self.sc = sc
        self.controller = sc.driver.controller
        self.node = sc.driver.node
        self.group = sc.driver.group
        self.managed: list[tuple[str, str, str]] = []  # (kind, id, node_id)

    # ---- registered calls ----

    def create_volume(self, request):
        response = self.controller.CreateVolume(request)
        if response.volume.volume_id:
            self.managed.append(("volume", response.volume.volume_id, ""))
        return response

    def must_create_volume(self, request):
        response = self.create_volume(request)
        assert response.HasField("volume"), "volume in response is nil"
        assert response.volume.volume_id, "volume ID in response is missing"
        return response

    def delete_volume(self, request):
        response = self.controller.DeleteVolume(request)
        self._unregister(request.volume_id)
        return response

    def controller_publish_volume(self, request):
        response = self.controller.ControllerPublishVolume(request)
        if request.volume_id and request.node_id:
            self.managed.append(("volume", request.volume_id, request.node_id))
        return response

    def create_snapshot(self, request):
        response = self.controller.CreateSnapshot(request)
        if response.snapshot.snapshot_id:
            self.managed.append(("snapshot", response.snapshot.snapshot_id, ""))
        return response

    def must_create_snapshot(self, request):
        response = self.create_snapshot(request)
        verify_snapshot_info(response.snapshot)
        return response

    def must_create_snapshot_from_volume_request(self, volume_request, snapshot_name: str):
        vol = self.must_create_volume(volume_request)
        snap = self.must_create_snapshot(make_create_snapshot_req(
            self.sc, snapshot_name, vol.volume.volume_id))
        return snap, vol

    def delete_snapshot(self, request):
        response = self.controller.DeleteSnapshot(request)
        if request.snapshot_id:
            self._unregister(request.snapshot_id)
        return response

    def _unregister(self, resource_id: str) -> None:
        for i, (_, rid, _) in enumerate(self.managed):
            if rid == resource_id:
                del self.managed[i]
                return

    # ---- cleanup, as resources.go Cleanup ----

    def cleanup(self) -> list[str]:
        errors: list[str] = []
        stage = node_capability(self.sc, NRPC.STAGE_UNSTAGE_VOLUME)
        for kind, rid, node_id in reversed(self.managed):
            if kind == "volume":
                errors += self._cleanup_volume(rid, node_id, stage)
            else:
                errors += self._call(f"DeleteSnapshot {rid}", self.controller.DeleteSnapshot,
                                     pb.DeleteSnapshotRequest(snapshot_id=rid))
        self.managed.clear()
        return errors

    def _cleanup_volume(self, volume_id: str, node_id: str, stage: bool) -> list[str]:
        errors = self._call(f"NodeUnpublishVolume {volume_id}", self.node.NodeUnpublishVolume,
                            pb.NodeUnpublishVolumeRequest(
                                volume_id=volume_id, target_path=self.sc.target_path + "/target"),
                            missing_ok=True)
        if stage:
            errors += self._call(f"NodeUnstageVolume {volume_id}", self.node.NodeUnstageVolume,
                                 pb.NodeUnstageVolumeRequest(
                                     volume_id=volume_id, staging_target_path=self.sc.staging_path),
                                 missing_ok=True)
        if node_id:
            errors += self._call(f"ControllerUnpublishVolume {volume_id}",
                                 self.controller.ControllerUnpublishVolume,
                                 pb.ControllerUnpublishVolumeRequest(volume_id=volume_id,
                                                                     node_id=node_id))
        errors += self._call(f"DeleteVolume {volume_id}", self.controller.DeleteVolume,
                             pb.DeleteVolumeRequest(volume_id=volume_id))
        return errors

    @staticmethod
    def _call(what: str, call, request, missing_ok: bool = False) -> list[str]:
        try:
            call(request)
        except grpc.RpcError as e:
            if missing_ok and _code(e) == grpc.StatusCode.NOT_FOUND:
                return []
            return [f"{what} failed: {_code(e).name}: {e.details()}"]
        return []


@dataclasses.dataclass
class TestContext:
    driver: Driver
    config: Config
    target_path: str
    staging_path: str

    __test__ = False  # not a pytest class

    def check_path(self, path: str) -> str:
        """csi-sanity's CheckPath: file, directory, not_found or other."""
        if self.config.path_mode == "cmd":
            out = subprocess.run(["sh", "-c", CHECK_PATH_CMD, "check", path],
                                 capture_output=True, text=True, check=True).stdout.strip()
            return out
        if not os.path.lexists(path):
            return "not_found"
        if os.path.isdir(path):
            return "directory"
        return "file" if os.path.isfile(path) else "other"


def _make_path(path: str, mode: str) -> str:
    """createMountTargetLocation: the command's output, or os.Mkdir (an
    error if the directory is still there from the previous spec)."""
    if mode == "cmd":
        out = subprocess.run(["sh", "-c", CREATE_PATH_CMD, "create", path],
                             capture_output=True, text=True, check=True).stdout.strip()
        return out
    os.mkdir(path, 0o755)
    return path


@pytest.fixture(scope="session", params=list(BACKENDS))
def driver(request):
    d = Driver(request.param)
    try:
        yield d
        left = d.leftovers()
    finally:
        d.stop()
    assert not left, f"the {d.backend} run left behind: {left}"


def _new_context(driver: Driver, path_mode: str) -> TestContext:
    """TestContext.Setup: csi-sanity's fixed --csi.mountdir/--csi.stagingdir."""
    parameters, access_type = BACKENDS[driver.backend]
    config = Config(test_volume_parameters=dict(parameters), test_volume_access_type=access_type,
                    path_mode=path_mode)
    target = _make_path(os.path.join(driver.base, "csi-mount"), path_mode)
    staging = _make_path(os.path.join(driver.base, "csi-staging"), path_mode)
    return TestContext(driver=driver, config=config, target_path=target, staging_path=staging)


def _teardown_context(sc: TestContext) -> list[str]:
    """TestContext.Teardown removes both directories with os.Remove, which
    fails when the driver left something in them; csi-sanity then fails the
    next spec's Setup. Here the spec that left it fails, and whatever is
    left (mounted or not) is released so nothing leaks."""
    problems = []
    for path in (sc.target_path, sc.staging_path):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            left = sorted(os.listdir(path)) if os.path.isdir(path) else []
            problems.append(f"Teardown cannot remove {path}: {e.strerror} (left: {left})")
            for point in mounts.mounts_under(path):
                mounts.unmount(point)
            shutil.rmtree(path, ignore_errors=True)
    return problems


@pytest.fixture
def sc(driver):
    context = _new_context(driver, "mkdir")
    yield context
    problems = _teardown_context(context)
    assert not problems, problems


@pytest.fixture
def r(sc):
    resources = Resources(sc)
    yield resources
    errors = resources.cleanup()
    assert not errors, f"resource cleanup failed: {errors}"


# ---- helpers shared by the spec files (controller.go / node.go helpers) ----

def volume_capability(sc: TestContext, mode: int = MODE.SINGLE_NODE_WRITER):
    """TestVolumeCapabilityWithAccessType."""
    cap = pb.VolumeCapability(access_mode=MODE(mode=mode))
    if sc.config.test_volume_access_type.strip().lower() == "block":
        cap.block.SetInParent()
    else:
        cap.mount.SetInParent()
    return cap


def volume_size(sc: TestContext) -> int:
    return sc.config.test_volume_size


def expand_size(sc: TestContext) -> int:
    if sc.config.test_volume_expand_size > 0:
        return sc.config.test_volume_expand_size
    return volume_size(sc) + GiB


def make_create_volume_req(sc: TestContext, name: str):
    size = volume_size(sc)
    return pb.CreateVolumeRequest(
        name=name, volume_capabilities=[volume_capability(sc)],
        capacity_range=pb.CapacityRange(required_bytes=size, limit_bytes=size),
        parameters=sc.config.test_volume_parameters)


def make_create_snapshot_req(sc: TestContext, name: str, source_volume_id: str):
    return pb.CreateSnapshotRequest(name=name, source_volume_id=source_volume_id,
                                    parameters=sc.config.test_snapshot_parameters)


def make_controller_publish_volume_req(sc: TestContext, volume_id: str, node_id: str):
    return pb.ControllerPublishVolumeRequest(
        volume_id=volume_id, node_id=node_id, volume_capability=volume_capability(sc),
        readonly=False)


def make_modify_volume_req(sc: TestContext, volume_id: str):
    return pb.ControllerModifyVolumeRequest(
        volume_id=volume_id, mutable_parameters=sc.config.test_volume_mutable_parameters)


def verify_volume_info(volume) -> None:
    assert volume is not None
    assert volume.volume_id


def verify_snapshot_info(snapshot) -> None:
    assert snapshot is not None
    assert snapshot.snapshot_id
    assert snapshot.source_volume_id
    assert snapshot.HasField("creation_time")
    assert snapshot.creation_time.seconds or snapshot.creation_time.nanos


def expect_error_code(call, request, code: grpc.StatusCode) -> None:
    """csi-sanity's ExpectErrorCode: an error, no response, this code."""
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    assert info.value.code() == code, \
        f"unexpected error: {info.value.code().name}: {info.value.details()}"


def controller_capability(sc: TestContext, cap_type: int) -> bool:
    """isControllerCapabilitySupported."""
    caps = sc.driver.controller.ControllerGetCapabilities(pb.ControllerGetCapabilitiesRequest())
    for cap in caps.capabilities:
        assert cap.HasField("rpc")
        if cap.rpc.type == cap_type:
            return True
    return False


def node_capability(sc: TestContext, cap_type: int) -> bool:
    """isNodeCapabilitySupported."""
    caps = sc.driver.node.NodeGetCapabilities(pb.NodeGetCapabilitiesRequest())
    for cap in caps.capabilities:
        assert cap.HasField("rpc")
        if cap.rpc.type == cap_type:
            return True
    return False


def plugin_service(sc: TestContext, service_type: int) -> bool:
    """isPluginCapabilitySupported (service capabilities)."""
    caps = sc.driver.identity.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest())
    return any(c.HasField("service") and c.service.type == service_type
               for c in caps.capabilities)


def group_capability(sc: TestContext, cap_type: int) -> bool:
    """isGroupControllerCapabilitySupported."""
    caps = sc.driver.group.GroupControllerGetCapabilities(
        pb.GroupControllerGetCapabilitiesRequest())
    for cap in caps.capabilities:
        assert cap.HasField("rpc")
        if cap.rpc.type == cap_type:
            return True
    return False
