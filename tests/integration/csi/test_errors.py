"""Bad input gets the spec's gRPC code with a clear message, and leaves
nothing behind (no storage, no mount, no loop device)."""

from __future__ import annotations

import os

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from hull.csi import mounts
from hull.sys import loop
from tests.integration.csi.conftest import MODE, NODE_ID, block_cap, code_of, mount_cap

pytestmark = pytest.mark.root
C = grpc.StatusCode
CAP = mount_cap()
MISSING = "hull-csi-test-no-such-id"


def _calls(plugin, vol_id: str, base: str):
    """(label, stub method, request, expected code) for the whole table."""
    c, n, g = plugin.controller, plugin.node, plugin.group
    return [
        # missing required fields
        ("create no name", c.CreateVolume, pb.CreateVolumeRequest(volume_capabilities=[CAP]),
         C.INVALID_ARGUMENT),
        ("create no caps", c.CreateVolume, pb.CreateVolumeRequest(name="hull-csi-test-x"),
         C.INVALID_ARGUMENT),
        ("create cap without access type", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[pb.VolumeCapability(
                access_mode=MODE(mode=MODE.SINGLE_NODE_WRITER))]), C.INVALID_ARGUMENT),
        ("create cap without mode", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[pb.VolumeCapability(
                mount=pb.VolumeCapability.MountVolume())]), C.INVALID_ARGUMENT),
        ("delete no id", c.DeleteVolume, pb.DeleteVolumeRequest(), C.INVALID_ARGUMENT),
        ("validate no id", c.ValidateVolumeCapabilities, pb.ValidateVolumeCapabilitiesRequest(
            volume_capabilities=[CAP]), C.INVALID_ARGUMENT),
        ("validate no caps", c.ValidateVolumeCapabilities,
         pb.ValidateVolumeCapabilitiesRequest(volume_id=vol_id), C.INVALID_ARGUMENT),
        ("publish no node", c.ControllerPublishVolume, pb.ControllerPublishVolumeRequest(
            volume_id=vol_id, volume_capability=CAP), C.INVALID_ARGUMENT),
        ("publish no cap", c.ControllerPublishVolume, pb.ControllerPublishVolumeRequest(
            volume_id=vol_id, node_id=NODE_ID), C.INVALID_ARGUMENT),
        ("unpublish no id", c.ControllerUnpublishVolume, pb.ControllerUnpublishVolumeRequest(),
         C.INVALID_ARGUMENT),
        ("snapshot no source", c.CreateSnapshot, pb.CreateSnapshotRequest(name="hull-csi-s"),
         C.INVALID_ARGUMENT),
        ("snapshot no name", c.CreateSnapshot, pb.CreateSnapshotRequest(
            source_volume_id=vol_id), C.INVALID_ARGUMENT),
        ("delete snapshot no id", c.DeleteSnapshot, pb.DeleteSnapshotRequest(),
         C.INVALID_ARGUMENT),
        ("expand no range", c.ControllerExpandVolume, pb.ControllerExpandVolumeRequest(
            volume_id=vol_id), C.INVALID_ARGUMENT),
        ("stage no path", n.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vol_id, volume_capability=CAP), C.INVALID_ARGUMENT),
        ("stage no cap", n.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vol_id, staging_target_path=f"{base}/s"), C.INVALID_ARGUMENT),
        ("stage relative path", n.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vol_id, staging_target_path="relative/s", volume_capability=CAP),
         C.INVALID_ARGUMENT),
        ("stage dotdot path", n.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vol_id, staging_target_path=f"{base}/../etc", volume_capability=CAP),
         C.INVALID_ARGUMENT),
        ("stage inside the driver root", n.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vol_id, staging_target_path=f"{plugin.root}/volumes",
            volume_capability=CAP), C.INVALID_ARGUMENT),
        ("stage on /", n.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vol_id, staging_target_path="/", volume_capability=CAP),
         C.INVALID_ARGUMENT),
        ("publish no target", n.NodePublishVolume, pb.NodePublishVolumeRequest(
            volume_id=vol_id, staging_target_path=f"{base}/s", volume_capability=CAP),
         C.INVALID_ARGUMENT),
        ("unpublish no target", n.NodeUnpublishVolume, pb.NodeUnpublishVolumeRequest(
            volume_id=vol_id), C.INVALID_ARGUMENT),
        ("unstage no path", n.NodeUnstageVolume, pb.NodeUnstageVolumeRequest(volume_id=vol_id),
         C.INVALID_ARGUMENT),
        ("stats no path", n.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(volume_id=vol_id),
         C.INVALID_ARGUMENT),
        ("node expand no path", n.NodeExpandVolume, pb.NodeExpandVolumeRequest(
            volume_id=vol_id), C.INVALID_ARGUMENT),
        ("group no sources", g.CreateVolumeGroupSnapshot, pb.CreateVolumeGroupSnapshotRequest(
            name="hull-csi-test-g"), C.INVALID_ARGUMENT),
        # unsupported values
        ("unknown fs type", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[mount_cap("zfs")]), C.INVALID_ARGUMENT),
        ("unknown backend", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP], parameters={"backend": "nfs"}),
         C.INVALID_ARGUMENT),
        ("unknown parameter", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP], parameters={"colour": "red"}),
         C.INVALID_ARGUMENT),
        ("block on dir", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[block_cap()],
            parameters={"backend": "dir"}), C.INVALID_ARGUMENT),
        ("negative capacity", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP],
            capacity_range=pb.CapacityRange(required_bytes=-1)), C.INVALID_ARGUMENT),
        ("required above limit", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP],
            capacity_range=pb.CapacityRange(required_bytes=2 << 20, limit_bytes=1 << 20)),
         C.INVALID_ARGUMENT),
        ("more than the backend has", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP], parameters={"backend": "loop"},
            capacity_range=pb.CapacityRange(required_bytes=1 << 60)), C.OUT_OF_RANGE),
        ("xfs below its minimum limit", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[mount_cap("xfs")],
            parameters={"backend": "loop"}, capacity_range=pb.CapacityRange(
                limit_bytes=32 << 20)), C.OUT_OF_RANGE),
        ("topology elsewhere", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP],
            accessibility_requirements=pb.TopologyRequirement(requisite=[pb.Topology(
                segments={"topology.hull.dev/node": "another-node"})])), C.RESOURCE_EXHAUSTED),
        ("not a mutable parameter", c.ControllerModifyVolume, pb.ControllerModifyVolumeRequest(
            volume_id=vol_id, mutable_parameters={"size": "1"}), C.INVALID_ARGUMENT),
        ("bad page token", c.ListVolumes, pb.ListVolumesRequest(starting_token="x"), C.ABORTED),
        ("token past the end", c.ListSnapshots, pb.ListSnapshotsRequest(starting_token="999"),
         C.ABORTED),
        ("negative max entries", c.ListVolumes, pb.ListVolumesRequest(max_entries=-1),
         C.INVALID_ARGUMENT),
        # unknown ids
        ("source snapshot missing", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP],
            volume_content_source=pb.VolumeContentSource(
                snapshot=pb.VolumeContentSource.SnapshotSource(snapshot_id=MISSING))),
         C.NOT_FOUND),
        ("source volume missing", c.CreateVolume, pb.CreateVolumeRequest(
            name="hull-csi-test-x", volume_capabilities=[CAP],
            volume_content_source=pb.VolumeContentSource(
                volume=pb.VolumeContentSource.VolumeSource(volume_id=MISSING))), C.NOT_FOUND),
        ("validate missing", c.ValidateVolumeCapabilities, pb.ValidateVolumeCapabilitiesRequest(
            volume_id=MISSING, volume_capabilities=[CAP]), C.NOT_FOUND),
        ("publish missing volume", c.ControllerPublishVolume, pb.ControllerPublishVolumeRequest(
            volume_id=MISSING, node_id=NODE_ID, volume_capability=CAP), C.NOT_FOUND),
        ("publish to unknown node", c.ControllerPublishVolume, pb.ControllerPublishVolumeRequest(
            volume_id=vol_id, node_id="hull-csi-test-other-node", volume_capability=CAP),
         C.NOT_FOUND),
        ("snapshot of missing volume", c.CreateSnapshot, pb.CreateSnapshotRequest(
            source_volume_id=MISSING, name="hull-csi-test-s"), C.NOT_FOUND),
        ("expand missing", c.ControllerExpandVolume, pb.ControllerExpandVolumeRequest(
            volume_id=MISSING, capacity_range=pb.CapacityRange(required_bytes=1 << 30)),
         C.NOT_FOUND),
        ("shrink", c.ControllerExpandVolume, pb.ControllerExpandVolumeRequest(
            volume_id=vol_id, capacity_range=pb.CapacityRange(limit_bytes=1 << 20)),
         C.OUT_OF_RANGE),
        ("get missing", c.ControllerGetVolume, pb.ControllerGetVolumeRequest(volume_id=MISSING),
         C.NOT_FOUND),
        ("modify missing", c.ControllerModifyVolume, pb.ControllerModifyVolumeRequest(
            volume_id=MISSING, mutable_parameters={"iops": "100"}), C.NOT_FOUND),
        ("stage missing", n.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=MISSING, staging_target_path=f"{base}/s", volume_capability=CAP),
         C.NOT_FOUND),
        ("publish on node missing", n.NodePublishVolume, pb.NodePublishVolumeRequest(
            volume_id=MISSING, staging_target_path=f"{base}/s", target_path=f"{base}/t",
            volume_capability=CAP), C.NOT_FOUND),
        ("stats missing volume", n.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
            volume_id=MISSING, volume_path=base), C.NOT_FOUND),
        ("stats on a path it is not at", n.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
            volume_id=vol_id, volume_path=base), C.NOT_FOUND),
        ("stats on a missing path", n.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
            volume_id=vol_id, volume_path=f"{base}/nowhere"), C.NOT_FOUND),
        ("node expand not there", n.NodeExpandVolume, pb.NodeExpandVolumeRequest(
            volume_id=vol_id, volume_path=base), C.NOT_FOUND),
        ("get missing group", g.GetVolumeGroupSnapshot, pb.GetVolumeGroupSnapshotRequest(
            group_snapshot_id=MISSING), C.NOT_FOUND),
        # wrong state
        ("publish on node unstaged", n.NodePublishVolume, pb.NodePublishVolumeRequest(
            volume_id=vol_id, staging_target_path=f"{base}/s", target_path=f"{base}/t",
            volume_capability=CAP), C.FAILED_PRECONDITION),
    ]


def test_error_code_table(plugin):
    vol = plugin.create("hull-csi-test-errors", backend="loop")
    failures = []
    for label, call, request, expected in _calls(plugin, vol.volume_id, plugin.base):
        with pytest.raises(grpc.RpcError) as info:
            call(request)
        if info.value.code() != expected:
            failures.append(f"{label}: {info.value.code().name} ({info.value.details()}), "
                            f"expected {expected.name}")
        elif not info.value.details().startswith("cannot "):
            failures.append(f"{label}: unclear message {info.value.details()!r}")
    assert not failures, "\n".join(failures)
    # nothing half-created: only the one volume, no mount, no loop device
    assert [e.volume.volume_id for e in plugin.controller.ListVolumes(
        pb.ListVolumesRequest()).entries] == [vol.volume_id]
    assert sorted(os.listdir(f"{plugin.root}/volumes")) == [f"{vol.volume_id}.img"]
    assert not mounts.mounts_under(plugin.base)
    assert not loop.find_by_backing(f"{plugin.root}/volumes/{vol.volume_id}.img")


def test_same_name_incompatible_is_already_exists(plugin):
    plugin.create("hull-csi-test-dup", 64 << 20, "loop")
    request = pb.CreateVolumeRequest(name="hull-csi-test-dup", volume_capabilities=[CAP],
                                     parameters={"backend": "loop"},
                                     capacity_range=pb.CapacityRange(required_bytes=128 << 20))
    assert code_of(plugin.controller.CreateVolume, request) == C.ALREADY_EXISTS
    request.capacity_range.required_bytes = 64 << 20
    request.parameters["backend"] = "dir"
    assert code_of(plugin.controller.CreateVolume, request) == C.ALREADY_EXISTS


def test_attach_limit_and_single_node_rules(plugin):
    """--max-volumes-per-node 3: the fourth attach is RESOURCE_EXHAUSTED."""
    info = plugin.node.NodeGetInfo(pb.NodeGetInfoRequest())
    assert info.max_volumes_per_node == 3
    assert info.accessible_topology.segments["topology.hull.dev/node"] == NODE_ID
    ids = [plugin.create(f"hull-csi-test-attach-{i}").volume_id for i in range(4)]
    publish = plugin.controller.ControllerPublishVolume
    for volume_id in ids[:3]:
        publish(pb.ControllerPublishVolumeRequest(volume_id=volume_id, node_id=NODE_ID,
                                                  volume_capability=CAP))
    assert code_of(publish, pb.ControllerPublishVolumeRequest(
        volume_id=ids[3], node_id=NODE_ID, volume_capability=CAP)) == C.RESOURCE_EXHAUSTED
    # same node, other readonly flag: ALREADY_EXISTS; another node: FAILED_PRECONDITION
    assert code_of(publish, pb.ControllerPublishVolumeRequest(
        volume_id=ids[0], node_id=NODE_ID, volume_capability=CAP,
        readonly=True)) == C.ALREADY_EXISTS
    assert code_of(publish, pb.ControllerPublishVolumeRequest(
        volume_id=ids[0], node_id="hull-csi-test-other", volume_capability=CAP)) == \
        C.FAILED_PRECONDITION
    # attached volumes are in use
    assert code_of(plugin.delete, ids[0]) == C.FAILED_PRECONDITION
    for volume_id in ids[:3]:
        plugin.controller.ControllerUnpublishVolume(pb.ControllerUnpublishVolumeRequest(
            volume_id=volume_id, node_id=NODE_ID))
    publish(pb.ControllerPublishVolumeRequest(volume_id=ids[3], node_id=NODE_ID,
                                              volume_capability=CAP))


def test_second_publish_of_single_writer_is_refused(plugin):
    vol = plugin.create("hull-csi-test-single")
    staging = f"{plugin.base}/staging"
    plugin.stage(vol.volume_id, staging)
    plugin.publish(vol.volume_id, staging, f"{plugin.base}/t1")
    assert code_of(plugin.publish, vol.volume_id, staging, f"{plugin.base}/t2") == \
        C.FAILED_PRECONDITION
    assert code_of(plugin.publish, vol.volume_id, staging, f"{plugin.base}/t1", None, True) == \
        C.ALREADY_EXISTS
    multi = mount_cap(mode=MODE.SINGLE_NODE_MULTI_WRITER)
    assert code_of(plugin.unstage, vol.volume_id, staging) == C.FAILED_PRECONDITION
    plugin.unpublish(vol.volume_id, f"{plugin.base}/t1")
    plugin.publish(vol.volume_id, staging, f"{plugin.base}/t1", multi)
    plugin.publish(vol.volume_id, staging, f"{plugin.base}/t2", multi)
    for t in ("t1", "t2"):
        plugin.unpublish(vol.volume_id, f"{plugin.base}/{t}")
    plugin.unstage(vol.volume_id, staging)


def test_paths_outside_allowed_roots_are_refused(plugin_factory):
    plugin = plugin_factory("--allowed-root", "/tmp/hull-csi-allowed-nowhere")
    vol = plugin.create("hull-csi-test-roots")
    assert code_of(plugin.stage, vol.volume_id, f"{plugin.base}/staging") == \
        C.INVALID_ARGUMENT
    assert not mounts.mounts_under(plugin.base)
