"""Kill the driver mid-way (SIGKILL) and start it again: volumes,
attachments, stagings and publications are still known and still work."""

from __future__ import annotations

import os
import signal

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from hull.csi import mounts
from hull.sys import loop
from tests.integration.csi.conftest import NODE_ID, mount_cap, wait_for

pytestmark = pytest.mark.root


def test_sigkill_and_restart_keeps_everything(plugin):
    dir_vol = plugin.create("hull-csi-test-restart-dir", backend="dir")
    loop_vol = plugin.create("hull-csi-test-restart-loop", backend="loop")
    plugin.controller.ControllerPublishVolume(pb.ControllerPublishVolumeRequest(
        volume_id=loop_vol.volume_id, node_id=NODE_ID, volume_capability=mount_cap()))
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/target"
    plugin.stage(loop_vol.volume_id, staging)
    plugin.publish(loop_vol.volume_id, staging, target)
    with open(f"{target}/kept", "w") as f:
        f.write("survives the driver")
    device = loop.find_by_backing(f"{plugin.root}/volumes/{loop_vol.volume_id}.img")

    plugin.restart(signal.SIGKILL)

    listed = plugin.controller.ListVolumes(pb.ListVolumesRequest())
    by_id = {e.volume.volume_id: e for e in listed.entries}
    assert set(by_id) == {dir_vol.volume_id, loop_vol.volume_id}
    assert list(by_id[loop_vol.volume_id].status.published_node_ids) == [NODE_ID]
    assert not by_id[loop_vol.volume_id].status.volume_condition.abnormal
    # the same loop device, still mounted; repeats are idempotent
    assert loop.find_by_backing(f"{plugin.root}/volumes/{loop_vol.volume_id}.img") == device
    assert mounts.is_mount_point(staging) and mounts.is_mount_point(target)
    plugin.stage(loop_vol.volume_id, staging)
    plugin.publish(loop_vol.volume_id, staging, target)
    stats = plugin.node.NodeGetVolumeStats(pb.NodeGetVolumeStatsRequest(
        volume_id=loop_vol.volume_id, volume_path=target))
    assert stats.usage and not stats.volume_condition.abnormal
    with open(f"{target}/kept") as f:
        assert f.read() == "survives the driver"

    plugin.unpublish(loop_vol.volume_id, target)
    plugin.unstage(loop_vol.volume_id, staging)
    assert loop.find_by_backing(f"{plugin.root}/volumes/{loop_vol.volume_id}.img") == []
    plugin.controller.ControllerUnpublishVolume(pb.ControllerUnpublishVolumeRequest(
        volume_id=loop_vol.volume_id, node_id=NODE_ID))
    plugin.delete(loop_vol.volume_id)
    plugin.delete(dir_vol.volume_id)
    assert not plugin.controller.ListVolumes(pb.ListVolumesRequest()).entries


def test_stage_reattaches_a_vanished_loop_device(plugin):
    """After a host reboot mounts and loop devices are gone but the state
    says "staged": the next NodeStageVolume attaches and mounts again."""
    vol = plugin.create("hull-csi-test-reboot", backend="loop")
    staging = f"{plugin.base}/staging"
    plugin.stage(vol.volume_id, staging)
    with open(f"{staging}/before-reboot", "w") as f:
        f.write("still here")
    plugin.stop(signal.SIGKILL)
    image = f"{plugin.root}/volumes/{vol.volume_id}.img"
    mounts.unmount(staging)  # what a reboot does
    for device in loop.find_by_backing(image):
        loop.detach(device)
    plugin.start()

    condition = plugin.controller.ControllerGetVolume(pb.ControllerGetVolumeRequest(
        volume_id=vol.volume_id)).status.volume_condition
    assert condition.abnormal and staging in condition.message
    plugin.stage(vol.volume_id, staging)
    assert loop.find_by_backing(image) and mounts.is_mount_point(staging)
    with open(f"{staging}/before-reboot") as f:
        assert f.read() == "still here"
    plugin.unstage(vol.volume_id, staging)
    plugin.delete(vol.volume_id)


def test_leftovers_of_a_crashed_create_are_swept(plugin):
    """A crash between writing storage and recording it leaves a .tmp entry
    or an unrecorded volume; the next start removes both."""
    stray = [f"{plugin.root}/volumes/.tmp-vol-crashed.img", f"{plugin.root}/volumes/vol-orphan"]
    open(stray[0], "w").close()
    os.mkdir(stray[1])
    kept = plugin.create("hull-csi-test-kept", backend="dir")
    plugin.restart(signal.SIGKILL)
    assert not any(os.path.exists(p) for p in stray)
    assert os.path.isdir(f"{plugin.root}/volumes/{kept.volume_id}")
    plugin.delete(kept.volume_id)


def test_health_is_abnormal_when_backing_is_missing(plugin):
    vol = plugin.create("hull-csi-test-missing", backend="loop")
    os.unlink(f"{plugin.root}/volumes/{vol.volume_id}.img")
    got = plugin.controller.ControllerGetVolume(pb.ControllerGetVolumeRequest(
        volume_id=vol.volume_id))
    assert got.status.volume_condition.abnormal
    assert "missing" in got.status.volume_condition.message
    plugin.delete(vol.volume_id)  # still deletable
    assert not plugin.controller.ListVolumes(pb.ListVolumesRequest()).entries


def test_sigkill_during_a_create_leaves_nothing_and_retry_works(plugin):
    """Kill the driver while CreateVolume copies a snapshot: after the restart
    no half volume is listed or left on disk, and the CO's retry succeeds."""
    source = plugin.create("hull-csi-test-big", 320 << 20, "loop")
    staging = f"{plugin.base}/staging"
    plugin.stage(source.volume_id, staging)
    with open(f"{staging}/fill", "wb") as f:  # real data makes the copy take a while
        chunk = os.urandom(1 << 20)
        for i in range(240):
            f.write(chunk[:-8] + i.to_bytes(8, 'big'))
    plugin.unstage(source.volume_id, staging)
    snap = plugin.controller.CreateSnapshot(pb.CreateSnapshotRequest(
        source_volume_id=source.volume_id, name="hull-csi-test-big-snap")).snapshot
    request = pb.CreateVolumeRequest(
        name="hull-csi-test-interrupted", volume_capabilities=[mount_cap()],
        parameters={"backend": "loop"},
        volume_content_source=pb.VolumeContentSource(
            snapshot=pb.VolumeContentSource.SnapshotSource(snapshot_id=snap.snapshot_id)))
    pending = plugin.controller.CreateVolume.future(request)
    volumes_dir = f"{plugin.root}/volumes"
    assert wait_for(lambda: any(n.startswith(".tmp-") for n in os.listdir(volumes_dir)),
                    interval=0.005)
    plugin.stop(signal.SIGKILL)
    with pytest.raises(grpc.RpcError):
        pending.result(timeout=10)
    plugin.start()
    assert not any(n.startswith(".tmp-") for n in os.listdir(volumes_dir))
    names = [e.volume.volume_id for e in plugin.controller.ListVolumes(
        pb.ListVolumesRequest()).entries]
    assert names == [source.volume_id]
    retried = plugin.controller.CreateVolume(request).volume
    assert retried.content_source.snapshot.snapshot_id == snap.snapshot_id
    assert sorted(os.listdir(volumes_dir)) == sorted(
        [f"{source.volume_id}.img", f"{retried.volume_id}.img"])
