"""Guard csi.proto's wire numbers against the CSI spec (spec.md, v1.9):
a renumbered field would still compile and silently break every CO."""

from __future__ import annotations

import pytest

from hull._generated import csi_pb2 as pb

FIELDS = [
    (pb.CreateVolumeRequest, "name", 1), (pb.CreateVolumeRequest, "capacity_range", 2),
    (pb.CreateVolumeRequest, "volume_capabilities", 3), (pb.CreateVolumeRequest, "secrets", 5),
    (pb.CreateVolumeRequest, "volume_content_source", 6),
    (pb.CreateVolumeRequest, "accessibility_requirements", 7),
    (pb.CreateVolumeRequest, "mutable_parameters", 8),
    (pb.Volume, "capacity_bytes", 1), (pb.Volume, "volume_id", 2),
    (pb.Volume, "accessible_topology", 5),
    (pb.VolumeCapability, "block", 1), (pb.VolumeCapability, "mount", 2),
    (pb.VolumeCapability, "access_mode", 3),
    (pb.VolumeCapability.MountVolume, "volume_mount_group", 3),
    (pb.ControllerPublishVolumeRequest, "readonly", 4),
    (pb.ControllerPublishVolumeRequest, "volume_context", 6),
    (pb.ValidateVolumeCapabilitiesRequest, "volume_capabilities", 3),
    (pb.ValidateVolumeCapabilitiesRequest, "mutable_parameters", 6),
    (pb.ValidateVolumeCapabilitiesResponse.Confirmed, "mutable_parameters", 4),
    (pb.ListVolumesRequest, "max_entries", 1), (pb.ListVolumesResponse, "next_token", 2),
    (pb.ListVolumesResponse.VolumeStatus, "volume_condition", 2),
    (pb.GetCapacityResponse, "minimum_volume_size", 3),
    (pb.Snapshot, "creation_time", 4), (pb.Snapshot, "ready_to_use", 5),
    (pb.Snapshot, "group_snapshot_id", 6),
    (pb.ListSnapshotsRequest, "snapshot_id", 4), (pb.ListSnapshotsRequest, "secrets", 5),
    (pb.ControllerExpandVolumeRequest, "volume_capability", 4),
    (pb.ControllerModifyVolumeRequest, "mutable_parameters", 3),
    (pb.NodeStageVolumeRequest, "staging_target_path", 3),
    (pb.NodeStageVolumeRequest, "volume_context", 6),
    (pb.NodePublishVolumeRequest, "target_path", 4),
    (pb.NodePublishVolumeRequest, "volume_context", 8),
    (pb.NodeGetVolumeStatsRequest, "staging_target_path", 3),
    (pb.NodeGetVolumeStatsResponse, "volume_condition", 2),
    (pb.VolumeUsage, "unit", 4), (pb.NodeGetInfoResponse, "accessible_topology", 3),
    (pb.NodeExpandVolumeRequest, "secrets", 6),
    (pb.VolumeGroupSnapshot, "ready_to_use", 4),
    (pb.DeleteVolumeGroupSnapshotRequest, "snapshot_ids", 2),
]


@pytest.mark.parametrize("message,field,number", FIELDS,
                         ids=[f"{m.__name__}.{f}" for m, f, _ in FIELDS])
def test_field_numbers(message, field, number):
    assert message.DESCRIPTOR.fields_by_name[field].number == number


def test_enum_values():
    Mode = pb.VolumeCapability.AccessMode
    assert (Mode.MULTI_NODE_MULTI_WRITER, Mode.SINGLE_NODE_MULTI_WRITER) == (5, 7)
    RPC = pb.ControllerServiceCapability.RPC
    assert (RPC.LIST_VOLUMES_PUBLISHED_NODES, RPC.GET_VOLUME, RPC.MODIFY_VOLUME) == (10, 12, 14)
    assert pb.NodeServiceCapability.RPC.VOLUME_MOUNT_GROUP == 6
    assert pb.PluginCapability.Service.GROUP_CONTROLLER_SERVICE == 3
    assert pb.PluginCapability.VolumeExpansion.OFFLINE == 2


def test_services_and_package():
    assert pb.DESCRIPTOR.package == "csi.v1"
    services = pb.DESCRIPTOR.services_by_name
    assert set(services) == {"Identity", "Controller", "GroupController", "Node"}
    assert "ControllerModifyVolume" in services["Controller"].methods_by_name
    assert {m.name for m in services["GroupController"].methods} == {
        "GroupControllerGetCapabilities", "CreateVolumeGroupSnapshot",
        "DeleteVolumeGroupSnapshot", "GetVolumeGroupSnapshot"}
