"""csi-sanity node.go: "Node Service". One test per It(), named after it,
with csi-sanity's capability gates as skips (same reasons). The ``cmd``
variants rerun the path-sensitive specs with the staging/target
directories made by an external command (``--csi.createmountpathcmd``)
and checked by another (``--csi.checkpathcmd``)."""

from __future__ import annotations

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from tests.integration.csi_sanity.conftest import (
    CRPC, MODE, NRPC, IDGen, Resources, _new_context, _teardown_context,
    controller_capability, expand_size, expect_error_code, make_create_volume_req,
    node_capability, plugin_service, unique_string, volume_capability)

pytestmark = pytest.mark.root
Code = grpc.StatusCode
SERVICE = pb.PluginCapability.Service


class Node:
    """The Node Service BeforeEach: what the driver supports, and the
    create/publish/stage/publish helpers of node.go."""

    def __init__(self, sc, r):
        self.sc, self.r = sc, r
        self.provides_controller = plugin_service(sc, SERVICE.CONTROLLER_SERVICE)
        self.controller_publish = self.provides_controller and controller_capability(
            sc, CRPC.PUBLISH_UNPUBLISH_VOLUME)
        self.stage = node_capability(sc, NRPC.STAGE_UNSTAGE_VOLUME)
        self.stats = node_capability(sc, NRPC.GET_VOLUME_STATS)
        self.expansion = node_capability(sc, NRPC.EXPAND_VOLUME)
        self.controller_expansion = self.provides_controller and controller_capability(
            sc, CRPC.EXPAND_VOLUME)
        self.single_node_multi_writer = node_capability(sc, NRPC.SINGLE_NODE_MULTI_WRITER)
        self.volume_health = _named_node_capability(sc, "GET_VOLUME_HEALTH")
        self.storage_health = _named_node_capability(sc, "GET_STORAGE_HEALTH")

    def create(self, name: str, cap=None):
        req = make_create_volume_req(self.sc, name)
        req.ClearField("volume_capabilities")
        req.volume_capabilities.append(cap or volume_capability(self.sc))
        return self.r.must_create_volume(req)

    def controller_publish_volume(self, vol, nid, cap=None):
        if not self.controller_publish:
            return None
        return self.r.controller_publish_volume(pb.ControllerPublishVolumeRequest(
            volume_id=vol.volume.volume_id, node_id=nid.node_id,
            volume_capability=cap or volume_capability(self.sc),
            volume_context=vol.volume.volume_context, readonly=False))

    def node_stage_volume(self, vol, conpubvol, cap=None):
        if not self.stage:
            return None
        req = pb.NodeStageVolumeRequest(
            volume_id=vol.volume.volume_id, volume_capability=cap or volume_capability(self.sc),
            staging_target_path=self.sc.staging_path, volume_context=vol.volume.volume_context)
        if conpubvol is not None:
            req.publish_context.update(conpubvol.publish_context)
        res = self.r.node.NodeStageVolume(req)
        assert res is not None
        return res

    def node_publish_volume(self, vol, conpubvol, cap=None):
        req = pb.NodePublishVolumeRequest(
            volume_id=vol.volume.volume_id, target_path=self.sc.target_path + "/target",
            staging_target_path=self.sc.staging_path if self.stage else "",
            volume_capability=cap or volume_capability(self.sc),
            volume_context=vol.volume.volume_context)
        if conpubvol is not None:
            req.publish_context.update(conpubvol.publish_context)
        res = self.r.node.NodePublishVolume(req)
        assert res is not None
        return res

    def node_info(self):
        nid = self.r.node.NodeGetInfo(pb.NodeGetInfoRequest())
        assert nid.node_id
        return nid

    def stage_and_publish(self, vol, cap=None):
        conpubvol = self.controller_publish_volume(vol, self.node_info(), cap)
        self.node_stage_volume(vol, conpubvol, cap)
        self.node_publish_volume(vol, conpubvol, cap)
        return conpubvol


def _named_node_capability(sc, name: str) -> bool:
    """Capabilities newer than our csi.proto: a driver built from it cannot
    advertise them, so csi-sanity's gate is the driver's answer."""
    names = pb.NodeServiceCapability.RPC.Type.keys()
    if name not in names:
        return False
    value = pb.NodeServiceCapability.RPC.Type.Value(name)
    return node_capability(sc, value)


@pytest.fixture
def n(sc, r):
    return Node(sc, r)


def run_controller_test(n: Node, count: int) -> None:
    """runControllerTest."""
    sc, r = n.sc, n.r
    name = unique_string(f"sanity-node-full-{count}")
    ni = n.node_info()
    req = make_create_volume_req(sc, name)
    if ni.HasField("accessible_topology"):
        req.accessibility_requirements.requisite.append(ni.accessible_topology)
    vol = r.must_create_volume(req)
    conpubvol = None
    if n.controller_publish:
        conpubvol = r.controller_publish_volume(pb.ControllerPublishVolumeRequest(
            volume_id=vol.volume.volume_id, node_id=ni.node_id,
            volume_capability=volume_capability(sc), volume_context=vol.volume.volume_context,
            readonly=False))
    if n.stage:
        for _ in range(count):
            stage = pb.NodeStageVolumeRequest(
                volume_id=vol.volume.volume_id, volume_capability=volume_capability(sc),
                staging_target_path=sc.staging_path, volume_context=vol.volume.volume_context)
            if conpubvol is not None:
                stage.publish_context.update(conpubvol.publish_context)
            assert r.node.NodeStageVolume(stage) is not None
    for _ in range(count):
        publish = pb.NodePublishVolumeRequest(
            volume_id=vol.volume.volume_id, target_path=sc.target_path + "/target",
            staging_target_path=sc.staging_path if n.stage else "",
            volume_capability=volume_capability(sc), volume_context=vol.volume.volume_context)
        if conpubvol is not None:
            publish.publish_context.update(conpubvol.publish_context)
        assert r.node.NodePublishVolume(publish) is not None
    if n.stats:
        stats = r.node.NodeGetVolumeStats(pb.NodeGetVolumeStatsRequest(
            volume_id=vol.volume.volume_id, volume_path=sc.target_path + "/target"))
        assert len(stats.usage) > 0


# ---------------- NodeGetCapabilities / NodeGetInfo ----------------

def test_node_get_capabilities_should_return_appropriate_capabilities(sc, n):
    known = {NRPC.UNKNOWN, NRPC.STAGE_UNSTAGE_VOLUME, NRPC.GET_VOLUME_STATS,
             NRPC.EXPAND_VOLUME, NRPC.SINGLE_NODE_MULTI_WRITER, NRPC.VOLUME_MOUNT_GROUP,
             4}  # 4: the deprecated VOLUME_CONDITION value csi-sanity still accepts
    for name in ("GET_VOLUME_HEALTH", "GET_STORAGE_HEALTH"):
        if name in pb.NodeServiceCapability.RPC.Type.keys():
            known.add(pb.NodeServiceCapability.RPC.Type.Value(name))
    caps = n.r.node.NodeGetCapabilities(pb.NodeGetCapabilitiesRequest())
    for cap in caps.capabilities:
        assert cap.HasField("rpc")
        assert cap.rpc.type in known, f"Unknown capability: {cap.rpc.type}"


def test_node_get_info_should_return_appropriate_values(sc, n):
    accessibility = plugin_service(sc, SERVICE.VOLUME_ACCESSIBILITY_CONSTRAINTS)
    info = n.r.node.NodeGetInfo(pb.NodeGetInfoRequest())
    assert info.node_id
    assert info.max_volumes_per_node >= 0
    if accessibility:
        assert info.HasField("accessible_topology")


# ---------------- NodePublishVolume ----------------

def test_node_publish_volume_should_fail_when_no_volume_id_is_provided(sc, n):
    expect_error_code(n.r.node.NodePublishVolume, pb.NodePublishVolumeRequest(),
                      Code.INVALID_ARGUMENT)


def test_node_publish_volume_should_fail_when_no_target_path_is_provided(sc, n):
    expect_error_code(n.r.node.NodePublishVolume, pb.NodePublishVolumeRequest(
        volume_id=IDGen.unique_valid_volume_id()), Code.INVALID_ARGUMENT)


def test_node_publish_volume_should_fail_when_no_volume_capability_is_provided(sc, n):
    expect_error_code(n.r.node.NodePublishVolume, pb.NodePublishVolumeRequest(
        volume_id=IDGen.unique_valid_volume_id(), target_path=sc.target_path + "/target"),
        Code.INVALID_ARGUMENT)


def test_node_publish_volume_should_fail_when_volume_with_single_node_single_writer_access_mode_is_already_mounted_at_a_different_target_path(  # noqa: E501
        sc, n):
    if not n.single_node_multi_writer:
        pytest.skip("Service does not have single node multi writer capability")
    cap = volume_capability(sc, MODE.SINGLE_NODE_SINGLE_WRITER)
    vol = n.create(unique_string("sanity-node-publish-single-node-single-writer"), cap)
    conpubvol = n.stage_and_publish(vol, cap)
    req = pb.NodePublishVolumeRequest(
        volume_id=vol.volume.volume_id, target_path=sc.target_path + "/other_target",
        volume_capability=cap, volume_context=vol.volume.volume_context)
    if conpubvol is not None:
        req.publish_context.update(conpubvol.publish_context)
    if n.stage:
        req.staging_target_path = sc.staging_path
    expect_error_code(n.r.node.NodePublishVolume, req, Code.FAILED_PRECONDITION)


# ---------------- NodeUnpublishVolume ----------------

def test_node_unpublish_volume_should_fail_when_no_volume_id_is_provided(sc, n):
    expect_error_code(n.r.node.NodeUnpublishVolume, pb.NodeUnpublishVolumeRequest(),
                      Code.INVALID_ARGUMENT)


def test_node_unpublish_volume_should_fail_when_no_target_path_is_provided(sc, n):
    expect_error_code(n.r.node.NodeUnpublishVolume, pb.NodeUnpublishVolumeRequest(
        volume_id=IDGen.unique_valid_volume_id()), Code.INVALID_ARGUMENT)


def _should_remove_target_path(sc, n):
    vol = n.create(unique_string("sanity-node-unpublish-volume"))
    volpath = sc.target_path + "/target"
    n.stage_and_publish(vol)
    assert sc.check_path(volpath) != "not_found", \
        f"path {volpath} should have been created by CSI driver"
    n.r.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
        volume_id=vol.volume.volume_id, target_path=volpath))
    assert sc.check_path(volpath) == "not_found", \
        f"path {volpath} should have been removed by the CSI driver during NodeUnpublishVolume"


def test_node_unpublish_volume_should_remove_target_path(sc, n):
    _should_remove_target_path(sc, n)


# ---------------- NodeStageVolume / NodeUnstageVolume ----------------

DEVICE = "/dev/mock"


def test_node_stage_volume_should_fail_when_no_volume_id_is_provided(sc, n):
    if not n.stage:
        pytest.skip("NodeStageVolume not supported")
    expect_error_code(n.r.node.NodeStageVolume, pb.NodeStageVolumeRequest(
        staging_target_path=sc.staging_path, volume_capability=volume_capability(sc),
        publish_context={"device": DEVICE}), Code.INVALID_ARGUMENT)


def test_node_stage_volume_should_fail_when_no_staging_target_path_is_provided(sc, n):
    if not n.stage:
        pytest.skip("NodeStageVolume not supported")
    expect_error_code(n.r.node.NodeStageVolume, pb.NodeStageVolumeRequest(
        volume_id=IDGen.unique_valid_volume_id(), volume_capability=volume_capability(sc),
        publish_context={"device": DEVICE}), Code.INVALID_ARGUMENT)


def test_node_stage_volume_should_fail_when_no_volume_capability_is_provided(sc, n):
    if not n.stage:
        pytest.skip("NodeStageVolume not supported")
    vol = n.r.must_create_volume(make_create_volume_req(sc, unique_string(
        "sanity-node-stage-nocaps")))
    expect_error_code(n.r.node.NodeStageVolume, pb.NodeStageVolumeRequest(
        volume_id=vol.volume.volume_id, staging_target_path=sc.staging_path,
        publish_context={"device": DEVICE}), Code.INVALID_ARGUMENT)


def test_node_unstage_volume_should_fail_when_no_volume_id_is_provided(sc, n):
    if not n.stage:
        pytest.skip("NodeUnstageVolume not supported")
    expect_error_code(n.r.node.NodeUnstageVolume, pb.NodeUnstageVolumeRequest(
        staging_target_path=sc.staging_path), Code.INVALID_ARGUMENT)


def test_node_unstage_volume_should_fail_when_no_staging_target_path_is_provided(sc, n):
    if not n.stage:
        pytest.skip("NodeUnstageVolume not supported")
    expect_error_code(n.r.node.NodeUnstageVolume, pb.NodeUnstageVolumeRequest(
        volume_id=IDGen.unique_valid_volume_id()), Code.INVALID_ARGUMENT)


# ---------------- NodeGetVolumeStats ----------------

def _require_stats(n):
    if not n.stats:
        pytest.skip("NodeGetVolume not supported")


def test_node_get_volume_stats_should_fail_when_no_volume_id_is_provided(sc, n):
    _require_stats(n)
    expect_error_code(n.r.node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
        volume_path="some/path"), Code.INVALID_ARGUMENT)


def test_node_get_volume_stats_should_fail_when_no_volume_path_is_provided(sc, n):
    _require_stats(n)
    expect_error_code(n.r.node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
        volume_id=IDGen.unique_valid_volume_id()), Code.INVALID_ARGUMENT)


def test_node_get_volume_stats_should_fail_when_volume_is_not_found(sc, n):
    _require_stats(n)
    expect_error_code(n.r.node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
        volume_id=IDGen.unique_valid_volume_id(), volume_path="some/path"), Code.NOT_FOUND)


def test_node_get_volume_stats_should_fail_when_volume_does_not_exist_on_the_specified_path(
        sc, n):
    _require_stats(n)
    vol = n.create(unique_string("sanity-node-get-volume-stats"))
    n.stage_and_publish(vol)
    expect_error_code(n.r.node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
        volume_id=vol.volume.volume_id, volume_path="some/path"), Code.NOT_FOUND)


# ---------------- NodeExpandVolume ----------------

def _require_expansion(n):
    if not n.expansion:
        pytest.skip("NodeExpandVolume not supported")


def test_node_expand_volume_should_fail_when_no_volume_id_is_provided(sc, n):
    _require_expansion(n)
    expect_error_code(n.r.node.NodeExpandVolume, pb.NodeExpandVolumeRequest(
        volume_path=sc.target_path, volume_capability=volume_capability(sc)),
        Code.INVALID_ARGUMENT)


def test_node_expand_volume_should_fail_when_no_volume_path_is_provided(sc, n):
    _require_expansion(n)
    vol = n.create(unique_string("sanity-node-expand-volume-valid-id"))
    expect_error_code(n.r.node.NodeExpandVolume, pb.NodeExpandVolumeRequest(
        volume_id=vol.volume.volume_id, volume_capability=volume_capability(sc)),
        Code.INVALID_ARGUMENT)


def test_node_expand_volume_should_fail_when_volume_is_not_found(sc, n):
    _require_expansion(n)
    expect_error_code(n.r.node.NodeExpandVolume, pb.NodeExpandVolumeRequest(
        volume_id=IDGen.unique_valid_volume_id(), volume_path="some/path"), Code.NOT_FOUND)


def test_node_expand_volume_should_work_if_node_expand_is_called_after_node_publish(sc, n):
    _require_expansion(n)
    vol = n.create(unique_string("sanity-node-expand-volume"))
    if n.controller_expansion:
        rsp = n.r.controller.ControllerExpandVolume(pb.ControllerExpandVolumeRequest(
            volume_id=vol.volume.volume_id,
            capacity_range=pb.CapacityRange(required_bytes=expand_size(sc))))
        assert rsp.capacity_bytes == expand_size(sc)
    n.stage_and_publish(vol)
    n.r.node.NodeExpandVolume(pb.NodeExpandVolumeRequest(
        volume_id=vol.volume.volume_id, volume_path=sc.target_path + "/target",
        capacity_range=pb.CapacityRange(required_bytes=expand_size(sc))))


# ---------------- NodeGetVolumeHealth / NodeGetStorageHealth ----------------

def test_node_get_volume_health_should_fail_when_no_volume_id_is_provided(sc, n):
    if not n.volume_health:
        pytest.skip("NodeGetVolumeHealth not supported")
    pytest.fail("driver advertises GET_VOLUME_HEALTH, which csi.proto does not define")


def test_node_get_volume_health_should_return_health_for_a_valid_volume(sc, n):
    if not n.volume_health:
        pytest.skip("NodeGetVolumeHealth not supported")
    pytest.fail("driver advertises GET_VOLUME_HEALTH, which csi.proto does not define")


def test_node_get_storage_health_should_return_appropriate_response(sc, n):
    if not n.storage_health:
        pytest.skip("NodeGetStorageHealth not supported")
    pytest.fail("driver advertises GET_STORAGE_HEALTH, which csi.proto does not define")


# ---------------- the full flow ----------------

def test_node_service_should_work(sc, n):
    if not n.provides_controller:
        pytest.skip("Controller Service not provided: CreateVolume not supported")
    run_controller_test(n, 1)


def test_node_service_should_be_idempotent(sc, n):
    if not n.provides_controller:
        pytest.skip("Controller Service not provided: CreateVolume not supported")
    if sc.config.idempotent_count <= 0:
        pytest.skip("Config.IdempotentCount is zero or negative, skip tests")
    run_controller_test(n, sc.config.idempotent_count)


# ---------------- --csi.createmountpathcmd / --csi.checkpathcmd variant ----------------

@pytest.fixture
def n_cmd(driver):
    """Node Service with the staging/target directories made by a command."""
    sc = _new_context(driver, "cmd")
    r = Resources(sc)
    yield Node(sc, r)
    errors = r.cleanup()
    errors += _teardown_context(sc)
    assert not errors, f"resource cleanup failed: {errors}"


def test_cmd_paths_node_unpublish_volume_should_remove_target_path(n_cmd):
    _should_remove_target_path(n_cmd.sc, n_cmd)


def test_cmd_paths_node_service_should_work(n_cmd):
    run_controller_test(n_cmd, 1)
