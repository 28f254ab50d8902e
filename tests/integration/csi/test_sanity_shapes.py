"""The request shapes csi-sanity (kubernetes-csi/csi-test pkg/sanity) sends,
replayed against hull-csi: what it sends is reproduced here from reading its
specs, so a regression shows up before the real suite runs."""

from __future__ import annotations

import os

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from tests.integration.csi.conftest import code_of, mount_cap

pytestmark = pytest.mark.root
GiB = 1 << 30
SIZE = 10 * GiB  # csi-sanity's default --csi.testvolumesize


def _create(plugin, name: str, exact: bool = True):
    request = pb.CreateVolumeRequest(name=name, volume_capabilities=[mount_cap()])
    request.capacity_range.required_bytes = SIZE
    if exact:
        request.capacity_range.limit_bytes = SIZE
    return plugin.controller.CreateVolume(request).volume


@pytest.mark.parametrize("extra", [(), ("--default-backend", "loop")])
def test_node_full_flow_twice(plugin_factory, extra):
    """runControllerTest with IdempotentCount 2: publish, stage x2, publish x2, stats."""
    plugin = plugin_factory(*extra)
    info = plugin.node.NodeGetInfo(pb.NodeGetInfoRequest())
    request = pb.CreateVolumeRequest(
        name="hull-csi-test-sanity-full", volume_capabilities=[mount_cap()],
        accessibility_requirements=pb.TopologyRequirement(
            requisite=[info.accessible_topology]))
    request.capacity_range.required_bytes = SIZE
    vol = plugin.controller.CreateVolume(request).volume
    published = plugin.controller.ControllerPublishVolume(pb.ControllerPublishVolumeRequest(
        volume_id=vol.volume_id, node_id=info.node_id, volume_capability=mount_cap(),
        volume_context=vol.volume_context))
    staging, target = f"{plugin.base}/csi-staging", f"{plugin.base}/csi-mount"
    os.makedirs(staging)
    os.makedirs(target)
    for _ in range(2):
        plugin.node.NodeStageVolume(pb.NodeStageVolumeRequest(
            volume_id=vol.volume_id, staging_target_path=staging, volume_capability=mount_cap(),
            volume_context=vol.volume_context, publish_context=published.publish_context))
    for _ in range(2):
        plugin.node.NodePublishVolume(pb.NodePublishVolumeRequest(
            volume_id=vol.volume_id, staging_target_path=staging,
            target_path=f"{target}/target", volume_capability=mount_cap(),
            volume_context=vol.volume_context, publish_context=published.publish_context))
    stats = plugin.node.NodeGetVolumeStats(pb.NodeGetVolumeStatsRequest(
        volume_id=vol.volume_id, volume_path=f"{target}/target"))
    assert stats.usage
    assert code_of(plugin.node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
        volume_id=vol.volume_id, volume_path="some/path")) == grpc.StatusCode.NOT_FOUND
    # node expansion after publish, with the size the controller expanded to
    grown = plugin.controller.ControllerExpandVolume(pb.ControllerExpandVolumeRequest(
        volume_id=vol.volume_id, capacity_range=pb.CapacityRange(required_bytes=SIZE + GiB)))
    assert grown.capacity_bytes == SIZE + GiB
    expand = pb.NodeExpandVolumeRequest(
        volume_id=vol.volume_id, volume_path=f"{target}/target",
        capacity_range=pb.CapacityRange(required_bytes=SIZE + GiB))
    if "loop" in extra and grown.node_expansion_required:
        try:
            plugin.node.NodeExpandVolume(expand)
        except grpc.RpcError as e:  # ext4 online resize without CAP_SYS_RESOURCE
            assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    else:
        plugin.node.NodeExpandVolume(expand)
    plugin.node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(
        volume_id=vol.volume_id, target_path=f"{target}/target"))
    assert not os.path.exists(f"{target}/target")  # "should remove target path"
    plugin.node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(
        volume_id=vol.volume_id, staging_target_path=staging))
    plugin.controller.ControllerUnpublishVolume(pb.ControllerUnpublishVolumeRequest(
        volume_id=vol.volume_id, node_id=info.node_id))
    plugin.delete(vol.volume_id)


def test_unknown_ids_with_relative_paths_are_not_found(plugin):
    for call, request in (
            (plugin.node.NodeGetVolumeStats, pb.NodeGetVolumeStatsRequest(
                volume_id="hull-csi-test-unknown", volume_path="some/path")),
            (plugin.node.NodeExpandVolume, pb.NodeExpandVolumeRequest(
                volume_id="hull-csi-test-unknown", volume_path="some/path"))):
        assert code_of(call, request) == grpc.StatusCode.NOT_FOUND


def test_max_length_names_and_exact_sizes(plugin):
    name = "hull-csi-test-maxlen-" + "x" * (128 - len("hull-csi-test-maxlen-"))
    vol = _create(plugin, name)
    assert vol.capacity_bytes == SIZE
    assert _create(plugin, name).volume_id == vol.volume_id
    request = pb.CreateVolumeRequest(name=name, volume_capabilities=[mount_cap()],
                                     capacity_range=pb.CapacityRange(
                                         required_bytes=2 * SIZE, limit_bytes=2 * SIZE))
    assert code_of(plugin.controller.CreateVolume, request) == grpc.StatusCode.ALREADY_EXISTS
    snap_request = pb.CreateSnapshotRequest(source_volume_id=vol.volume_id, name=name)
    snap = plugin.controller.CreateSnapshot(snap_request).snapshot
    assert plugin.controller.CreateSnapshot(snap_request).snapshot.snapshot_id == snap.snapshot_id
    assert snap.creation_time.seconds > 0 and snap.ready_to_use
    restored = plugin.controller.CreateVolume(pb.CreateVolumeRequest(
        name="hull-csi-test-from-maxlen", volume_capabilities=[mount_cap()],
        capacity_range=pb.CapacityRange(required_bytes=SIZE, limit_bytes=SIZE),
        volume_content_source=pb.VolumeContentSource(
            snapshot=pb.VolumeContentSource.SnapshotSource(snapshot_id=snap.snapshot_id))))
    assert restored.volume.capacity_bytes == SIZE
    confirmed = plugin.controller.ValidateVolumeCapabilities(
        pb.ValidateVolumeCapabilitiesRequest(volume_id=vol.volume_id,
                                             volume_capabilities=[mount_cap()])).confirmed
    assert list(confirmed.volume_capabilities) == [mount_cap()]


def test_list_snapshots_next_token_then_the_rest(plugin):
    vol = _create(plugin, "hull-csi-test-snap-src")
    for i in range(5):
        plugin.controller.CreateSnapshot(pb.CreateSnapshotRequest(
            source_volume_id=vol.volume_id, name=f"hull-csi-test-snap-{i}"))
    first = plugin.controller.ListSnapshots(pb.ListSnapshotsRequest(max_entries=2))
    assert len(first.entries) == 2 and first.next_token
    rest = plugin.controller.ListSnapshots(pb.ListSnapshotsRequest(
        starting_token=first.next_token))
    assert len(rest.entries) == 3 and not rest.next_token
    assert code_of(plugin.controller.ListSnapshots, pb.ListSnapshotsRequest(
        starting_token=str(5 + 5))) == grpc.StatusCode.ABORTED


def test_controller_capabilities_are_all_known_to_sanity(plugin_factory):
    """Without --mutable-parameters MODIFY_VOLUME is not advertised: csi-sanity
    releases before it knew that capability fail on unknown ones."""
    plugin = plugin_factory()
    RPC = pb.ControllerServiceCapability.RPC
    known = {RPC.CREATE_DELETE_VOLUME, RPC.PUBLISH_UNPUBLISH_VOLUME, RPC.LIST_VOLUMES,
             RPC.GET_CAPACITY, RPC.CREATE_DELETE_SNAPSHOT, RPC.LIST_SNAPSHOTS,
             RPC.PUBLISH_READONLY, RPC.CLONE_VOLUME, RPC.EXPAND_VOLUME,
             RPC.LIST_VOLUMES_PUBLISHED_NODES, RPC.GET_VOLUME, RPC.VOLUME_CONDITION,
             RPC.SINGLE_NODE_MULTI_WRITER}
    got = {c.rpc.type for c in plugin.controller.ControllerGetCapabilities(
        pb.ControllerGetCapabilitiesRequest()).capabilities}
    assert got == known
