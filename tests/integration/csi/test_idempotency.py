"""Every call repeated gives the same answer and does the work once; list
pagination walks all entries; group snapshots; capabilities."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from hull._generated import csi_pb2 as pb
from hull.csi import mounts
from hull.sys import loop
from tests.integration.csi.conftest import NODE_ID, mount_cap

pytestmark = pytest.mark.root


@pytest.mark.parametrize("backend", ["dir", "loop"])
def test_every_call_twice(plugin, backend):
    name = f"hull-csi-test-twice-{backend}"
    first = plugin.create(name, backend=backend)
    assert plugin.create(name, backend=backend) == first
    publish = pb.ControllerPublishVolumeRequest(volume_id=first.volume_id, node_id=NODE_ID,
                                                volume_capability=mount_cap())
    assert plugin.controller.ControllerPublishVolume(publish) == \
        plugin.controller.ControllerPublishVolume(publish)
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/target"
    for _ in range(2):
        plugin.stage(first.volume_id, staging)
    for _ in range(2):
        plugin.publish(first.volume_id, staging, target)
    assert mounts.mounts_under(plugin.base).count(target) == 1
    assert mounts.mounts_under(plugin.base).count(staging) == 1
    if backend == "loop":
        assert len(loop.find_by_backing(f"{plugin.root}/volumes/{first.volume_id}.img")) == 1
    snap_request = pb.CreateSnapshotRequest(source_volume_id=first.volume_id,
                                            name=f"hull-csi-test-snap-twice-{backend}")
    snap = plugin.controller.CreateSnapshot(snap_request).snapshot
    assert plugin.controller.CreateSnapshot(snap_request).snapshot == snap
    expand = pb.ControllerExpandVolumeRequest(
        volume_id=first.volume_id, capacity_range=pb.CapacityRange(required_bytes=96 << 20))
    assert plugin.controller.ControllerExpandVolume(expand).capacity_bytes == 96 << 20
    assert plugin.controller.ControllerExpandVolume(expand).capacity_bytes == 96 << 20
    for _ in range(2):
        plugin.unpublish(first.volume_id, target)
    for _ in range(2):
        plugin.unstage(first.volume_id, staging)
    assert not mounts.mounts_under(plugin.base)
    unpublish = pb.ControllerUnpublishVolumeRequest(volume_id=first.volume_id, node_id=NODE_ID)
    plugin.controller.ControllerUnpublishVolume(unpublish)
    plugin.controller.ControllerUnpublishVolume(unpublish)
    for _ in range(2):
        plugin.controller.DeleteSnapshot(pb.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id))
        plugin.delete(first.volume_id)
    assert not plugin.controller.ListVolumes(pb.ListVolumesRequest()).entries
    assert not [e for e in os.listdir(f"{plugin.root}/volumes")]


def test_concurrent_creates_of_one_name_make_one_volume(plugin):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: plugin.create("hull-csi-test-race", backend="loop"),
                                range(8)))
    assert len({a.volume_id for a in answers}) == 1
    assert len(plugin.controller.ListVolumes(pb.ListVolumesRequest()).entries) == 1
    assert len(os.listdir(f"{plugin.root}/volumes")) == 1


def _walk(call, request_type, page_size: int, **filters):
    seen, token, pages = [], "", 0
    while True:
        answer = call(request_type(max_entries=page_size, starting_token=token, **filters))
        assert len(answer.entries) <= page_size
        seen.extend(answer.entries)
        pages += 1
        token = answer.next_token
        if not token:
            return seen, pages


def test_list_volumes_pagination(plugin):
    ids = [plugin.create(f"hull-csi-test-page-{i}").volume_id for i in range(7)]
    entries, pages = _walk(plugin.controller.ListVolumes, pb.ListVolumesRequest, 3)
    assert [e.volume.volume_id for e in entries] == ids and pages == 3
    first = plugin.controller.ListVolumes(pb.ListVolumesRequest(max_entries=2))
    plugin.delete(ids[1])  # the last entry of page one goes away
    new = plugin.create("hull-csi-test-page-new").volume_id
    rest = plugin.controller.ListVolumes(pb.ListVolumesRequest(
        starting_token=first.next_token))
    got = [e.volume.volume_id for e in rest.entries]
    assert new in got and ids[1] not in got


def test_list_snapshots_filters_and_pages(plugin):
    a = plugin.create("hull-csi-test-snaps-a").volume_id
    b = plugin.create("hull-csi-test-snaps-b").volume_id
    made = {}
    for volume_id, count in ((a, 3), (b, 2)):
        for i in range(count):
            snap = plugin.controller.CreateSnapshot(pb.CreateSnapshotRequest(
                source_volume_id=volume_id, name=f"hull-csi-test-s-{volume_id}-{i}")).snapshot
            made[snap.snapshot_id] = volume_id
    entries, pages = _walk(plugin.controller.ListSnapshots, pb.ListSnapshotsRequest, 2)
    assert {e.snapshot.snapshot_id for e in entries} == set(made) and pages == 3
    by_volume, _ = _walk(plugin.controller.ListSnapshots, pb.ListSnapshotsRequest, 2,
                         source_volume_id=a)
    assert {e.snapshot.snapshot_id for e in by_volume} == {s for s, v in made.items() if v == a}
    one = next(iter(made))
    by_id = plugin.controller.ListSnapshots(pb.ListSnapshotsRequest(snapshot_id=one))
    assert [e.snapshot.snapshot_id for e in by_id.entries] == [one]
    assert not plugin.controller.ListSnapshots(pb.ListSnapshotsRequest(
        snapshot_id="hull-csi-test-none")).entries
    assert not plugin.controller.ListSnapshots(pb.ListSnapshotsRequest(
        source_volume_id="hull-csi-test-none")).entries


def test_group_snapshot_restores_each_member(plugin):
    ids = []
    for i in range(2):
        vol = plugin.create(f"hull-csi-test-group-{i}", backend="loop")
        staging = f"{plugin.base}/staging-{i}"
        plugin.stage(vol.volume_id, staging)
        with open(f"{staging}/member", "w") as f:
            f.write(f"member {i}")
        ids.append((vol.volume_id, staging))
    request = pb.CreateVolumeGroupSnapshotRequest(name="hull-csi-test-group",
                                                  source_volume_ids=[v for v, _ in ids])
    group = plugin.group.CreateVolumeGroupSnapshot(request).group_snapshot
    assert plugin.group.CreateVolumeGroupSnapshot(request).group_snapshot == group
    assert len(group.snapshots) == 2 and group.ready_to_use
    got = plugin.group.GetVolumeGroupSnapshot(pb.GetVolumeGroupSnapshotRequest(
        group_snapshot_id=group.group_snapshot_id)).group_snapshot
    assert got == group
    for snap in group.snapshots:
        assert snap.group_snapshot_id == group.group_snapshot_id
    member = group.snapshots[1]
    restored = plugin.create("hull-csi-test-group-restored", backend="loop",
                             volume_content_source=pb.VolumeContentSource(
                                 snapshot=pb.VolumeContentSource.SnapshotSource(
                                     snapshot_id=member.snapshot_id)))
    staging = f"{plugin.base}/restored"
    plugin.stage(restored.volume_id, staging)
    index = [v for v, _ in ids].index(member.source_volume_id)
    with open(f"{staging}/member") as f:
        assert f.read() == f"member {index}"
    plugin.unstage(restored.volume_id, staging)
    for volume_id, path in ids:
        plugin.unstage(volume_id, path)
    plugin.group.DeleteVolumeGroupSnapshot(pb.DeleteVolumeGroupSnapshotRequest(
        group_snapshot_id=group.group_snapshot_id))
    plugin.group.DeleteVolumeGroupSnapshot(pb.DeleteVolumeGroupSnapshotRequest(
        group_snapshot_id=group.group_snapshot_id))
    assert not plugin.controller.ListSnapshots(pb.ListSnapshotsRequest()).entries


def test_capabilities_and_modify(plugin):
    caps = plugin.identity.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest())
    services = {c.service.type for c in caps.capabilities if c.HasField("service")}
    Service = pb.PluginCapability.Service
    assert {Service.CONTROLLER_SERVICE, Service.VOLUME_ACCESSIBILITY_CONSTRAINTS,
            Service.GROUP_CONTROLLER_SERVICE} <= services
    assert plugin.identity.GetPluginInfo(pb.GetPluginInfoRequest()).name == "csi.hull.dev"
    assert plugin.identity.Probe(pb.ProbeRequest()).ready.value
    rpcs = {c.rpc.type for c in plugin.controller.ControllerGetCapabilities(
        pb.ControllerGetCapabilitiesRequest()).capabilities}
    assert pb.ControllerServiceCapability.RPC.MODIFY_VOLUME in rpcs
    vol = plugin.create("hull-csi-test-modify")
    plugin.controller.ControllerModifyVolume(pb.ControllerModifyVolumeRequest(
        volume_id=vol.volume_id, mutable_parameters={"iops": "500"}))
    listed = subprocess.run([sys.executable, "-m", "hull.cli.main", "volume", "ls",
                             "--csi-root", plugin.root], capture_output=True, text=True)
    assert "iops=500" in listed.stdout, listed.stderr
    capacity = plugin.controller.GetCapacity(pb.GetCapacityRequest(
        parameters={"backend": "loop"}))
    assert capacity.available_capacity > 0
    assert capacity.minimum_volume_size.value > 0


def test_volume_context_never_changes(plugin):
    """Formatting at first stage must not leak into volume_context."""
    vol = plugin.create("hull-csi-test-context", backend="loop")
    plugin.stage(vol.volume_id, f"{plugin.base}/staging")
    got = plugin.controller.ControllerGetVolume(pb.ControllerGetVolumeRequest(
        volume_id=vol.volume_id)).volume
    assert dict(got.volume_context) == dict(vol.volume_context) == {"backend": "loop"}
    plugin.unstage(vol.volume_id, f"{plugin.base}/staging")
