"""csi-sanity groupcontroller.go: "GroupController Service
[GroupController Server]" and "[GroupController VolumeGroupSnapshots]"."""

from __future__ import annotations

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from tests.integration.csi_sanity.conftest import (
    GRPC_, IDGen, expect_error_code, group_capability, plugin_service)

pytestmark = pytest.mark.root
Code = grpc.StatusCode


def _require_group_service(sc):
    if not plugin_service(sc, pb.PluginCapability.Service.GROUP_CONTROLLER_SERVICE):
        pytest.skip("GroupControllerService not supported")


def _require_group_snapshots(sc):
    _require_group_service(sc)
    if not group_capability(sc, GRPC_.CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT):
        pytest.skip("VolumeGroupSnapshots not supported")


def test_group_controller_get_capabilities_should_return_appropriate_capabilities(sc, r):
    _require_group_service(sc)
    caps = r.group.GroupControllerGetCapabilities(pb.GroupControllerGetCapabilitiesRequest())
    for cap in caps.capabilities:
        assert cap.HasField("rpc")
        assert cap.rpc.type == GRPC_.CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT, \
            f"Unknown capability: {cap.rpc.type}"


def test_create_volume_group_snapshot_should_fail_when_no_name_is_provided(sc, r):
    _require_group_snapshots(sc)
    expect_error_code(r.group.CreateVolumeGroupSnapshot,
                      pb.CreateVolumeGroupSnapshotRequest(), Code.INVALID_ARGUMENT)


def test_get_volume_group_snapshot_should_fail_when_no_volume_id_is_provided(sc, r):
    _require_group_snapshots(sc)
    expect_error_code(r.group.GetVolumeGroupSnapshot, pb.GetVolumeGroupSnapshotRequest(),
                      Code.INVALID_ARGUMENT)


def test_get_volume_group_snapshot_should_fail_when_an_invalid_volume_id_is_used(sc, r):
    _require_group_snapshots(sc)
    expect_error_code(r.group.GetVolumeGroupSnapshot, pb.GetVolumeGroupSnapshotRequest(
        group_snapshot_id=IDGen.invalid_volume_id()), Code.NOT_FOUND)


def test_delete_volume_group_snapshot_should_fail_when_no_volume_id_is_provided(sc, r):
    _require_group_snapshots(sc)
    expect_error_code(r.group.DeleteVolumeGroupSnapshot, pb.DeleteVolumeGroupSnapshotRequest(),
                      Code.INVALID_ARGUMENT)


def test_delete_volume_group_snapshot_should_succeed_when_an_invalid_volume_id_is_used(sc, r):
    _require_group_snapshots(sc)
    r.group.DeleteVolumeGroupSnapshot(pb.DeleteVolumeGroupSnapshotRequest(
        group_snapshot_id=IDGen.invalid_volume_id()))
