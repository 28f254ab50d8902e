"""A volume's life through the real driver: create, stage, publish, write,
snapshot, restore, clone, expand, block access; for both backends."""

from __future__ import annotations

import os

import grpc
import pytest

from hull._generated import csi_pb2 as pb
from hull.csi import mounts
from hull.sys import loop
from tests.integration.csi.conftest import MODE, block_cap, code_of, mount_cap

pytestmark = pytest.mark.root


def _has_cap_sys_resource() -> bool:
    with open("/proc/self/status") as f:
        line = next(l for l in f if l.startswith("CapEff:"))
    return bool(int(line.split()[1], 16) & (1 << 24))


def _snapshot(plugin, volume_id: str, name: str):
    return plugin.controller.CreateSnapshot(pb.CreateSnapshotRequest(
        source_volume_id=volume_id, name=name)).snapshot


def _from_snapshot(snapshot_id: str) -> pb.VolumeContentSource:
    return pb.VolumeContentSource(snapshot=pb.VolumeContentSource.SnapshotSource(
        snapshot_id=snapshot_id))


def _from_volume(volume_id: str) -> pb.VolumeContentSource:
    return pb.VolumeContentSource(volume=pb.VolumeContentSource.VolumeSource(
        volume_id=volume_id))


def _mount_and_read(plugin, volume_id: str, tag: str, name: str = "data.txt") -> str:
    staging, target = f"{plugin.base}/{tag}-staging", f"{plugin.base}/{tag}-target"
    plugin.stage(volume_id, staging)
    plugin.publish(volume_id, staging, target)
    try:
        with open(os.path.join(target, name)) as f:
            return f.read()
    finally:
        plugin.unpublish(volume_id, target)
        plugin.unstage(volume_id, staging)


@pytest.mark.parametrize("backend,fs_type", [("dir", ""), ("loop", "ext4"), ("loop", "xfs")])
def test_write_snapshot_restore_clone(plugin, backend, fs_type):
    size = 320 << 20 if fs_type == "xfs" else 64 << 20
    cap = mount_cap(fs_type)
    vol = plugin.create(f"hull-csi-test-life-{backend}-{fs_type}", size, backend, caps=[cap])
    assert vol.capacity_bytes >= size
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/target"
    plugin.stage(vol.volume_id, staging, cap)
    plugin.publish(vol.volume_id, staging, target, cap)
    assert mounts.is_mount_point(target)
    with open(f"{target}/data.txt", "w") as f:
        f.write("written before the snapshot")
    snap = _snapshot(plugin, vol.volume_id, f"hull-csi-test-snap-{backend}-{fs_type}")
    assert snap.ready_to_use and snap.source_volume_id == vol.volume_id
    with open(f"{target}/data.txt", "w") as f:
        f.write("written after the snapshot")
    plugin.unpublish(vol.volume_id, target)
    assert not os.path.exists(target)
    plugin.unstage(vol.volume_id, staging)
    assert not mounts.is_mount_point(staging)

    restored = plugin.create(f"hull-csi-test-restored-{backend}-{fs_type}", size, backend,
                             caps=[cap], volume_content_source=_from_snapshot(snap.snapshot_id))
    assert restored.content_source.snapshot.snapshot_id == snap.snapshot_id
    assert _mount_and_read(plugin, restored.volume_id, "restored") == \
        "written before the snapshot"

    clone = plugin.create(f"hull-csi-test-clone-{backend}-{fs_type}", size, backend,
                          caps=[cap], volume_content_source=_from_volume(vol.volume_id))
    assert _mount_and_read(plugin, clone.volume_id, "clone") == "written after the snapshot"

    # snapshots are independent of their volume: delete the volume, restore again
    plugin.delete(vol.volume_id)
    again = plugin.create(f"hull-csi-test-again-{backend}-{fs_type}", size, backend,
                          caps=[cap], volume_content_source=_from_snapshot(snap.snapshot_id))
    assert _mount_and_read(plugin, again.volume_id, "again") == "written before the snapshot"
    for v in (restored, clone, again):
        plugin.delete(v.volume_id)
    plugin.controller.DeleteSnapshot(pb.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id))


def test_readonly_publish_refuses_writes(plugin):
    vol = plugin.create("hull-csi-test-ro", backend="loop")
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/target"
    plugin.stage(vol.volume_id, staging)
    plugin.publish(vol.volume_id, staging, target, readonly=True)
    with pytest.raises(OSError) as info:
        open(f"{target}/x", "w").close()
    assert info.value.errno == 30  # EROFS
    plugin.unpublish(vol.volume_id, target)
    plugin.unstage(vol.volume_id, staging)


def test_mount_flags_reach_the_mount(plugin):
    cap = mount_cap("ext4", flags=["noexec", "nosuid"])
    vol = plugin.create("hull-csi-test-flags", backend="loop", caps=[cap])
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/target"
    plugin.stage(vol.volume_id, staging, cap)
    plugin.publish(vol.volume_id, staging, target, cap)
    st = os.statvfs(target)
    assert st.f_flag & os.ST_NOEXEC and st.f_flag & os.ST_NOSUID
    plugin.unpublish(vol.volume_id, target)
    plugin.unstage(vol.volume_id, staging)


def test_loop_capacity_is_enforced(plugin):
    vol = plugin.create("hull-csi-test-full", 32 << 20, "loop")
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/target"
    plugin.stage(vol.volume_id, staging)
    plugin.publish(vol.volume_id, staging, target)
    with pytest.raises(OSError) as info:
        with open(f"{target}/big", "wb") as f:
            for _ in range(64):
                f.write(b"\0" * (1 << 20))
            f.flush()
            os.fsync(f.fileno())
    assert info.value.errno == 28  # ENOSPC
    os.unlink(f"{target}/big")
    plugin.unpublish(vol.volume_id, target)
    plugin.unstage(vol.volume_id, staging)


@pytest.mark.parametrize("fs_type,start", [("ext4", 64 << 20), ("xfs", 320 << 20)])
def test_online_expansion_is_seen_inside(plugin, fs_type, start):
    cap = mount_cap(fs_type)
    vol = plugin.create(f"hull-csi-test-grow-{fs_type}", start, "loop", caps=[cap])
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/target"
    plugin.stage(vol.volume_id, staging, cap)
    plugin.publish(vol.volume_id, staging, target, cap)
    before = os.statvfs(target)
    grown = plugin.controller.ControllerExpandVolume(pb.ControllerExpandVolumeRequest(
        volume_id=vol.volume_id, capacity_range=pb.CapacityRange(required_bytes=start * 2),
        volume_capability=cap))
    assert grown.capacity_bytes == start * 2 and grown.node_expansion_required
    expand = pb.NodeExpandVolumeRequest(
        volume_id=vol.volume_id, volume_path=target, staging_target_path=staging,
        capacity_range=pb.CapacityRange(required_bytes=start * 2), volume_capability=cap)
    if fs_type == "ext4" and not _has_cap_sys_resource():
        # the kernel lets only CAP_SYS_RESOURCE resize a mounted ext4: the driver says
        # so, and the filesystem grows offline when the volume is staged again
        assert code_of(plugin.node.NodeExpandVolume, expand) == \
            grpc.StatusCode.FAILED_PRECONDITION
        plugin.unpublish(vol.volume_id, target)
        plugin.unstage(vol.volume_id, staging)
        plugin.stage(vol.volume_id, staging, cap)
        plugin.publish(vol.volume_id, staging, target, cap)
    else:
        assert plugin.node.NodeExpandVolume(expand).capacity_bytes == start * 2
    after = os.statvfs(target)
    assert after.f_blocks * after.f_frsize > before.f_blocks * before.f_frsize + start // 2
    stats = plugin.node.NodeGetVolumeStats(pb.NodeGetVolumeStatsRequest(
        volume_id=vol.volume_id, volume_path=target))
    total = [u.total for u in stats.usage if u.unit == pb.VolumeUsage.BYTES][0]
    assert total == after.f_blocks * after.f_frsize
    plugin.unpublish(vol.volume_id, target)
    plugin.unstage(vol.volume_id, staging)


def test_block_volume_read_write_through_device(plugin):
    cap = block_cap()
    vol = plugin.create("hull-csi-test-block", 16 << 20, "loop", caps=[cap])
    staging, target = f"{plugin.base}/staging", f"{plugin.base}/device"
    plugin.stage(vol.volume_id, staging, cap)
    plugin.publish(vol.volume_id, staging, target, cap)
    device = loop.find_by_backing(f"{plugin.root}/volumes/{vol.volume_id}.img")[0]
    with open(f"/sys/block/{os.path.basename(device)}/queue/logical_block_size") as f:
        assert f.read().strip() == "4096"  # matches the host filesystem's blocks
    payload = os.urandom(4096)
    fd = os.open(target, os.O_RDWR)
    try:
        assert os.lseek(fd, 0, os.SEEK_END) == 16 << 20
        os.pwrite(fd, payload, 1 << 20)
        os.fsync(fd)
    finally:
        os.close(fd)
    stats = plugin.node.NodeGetVolumeStats(pb.NodeGetVolumeStatsRequest(
        volume_id=vol.volume_id, volume_path=target))
    assert stats.usage[0].total == 16 << 20
    plugin.unpublish(vol.volume_id, target)
    plugin.unstage(vol.volume_id, staging)
    # the bytes are in the image, at the same offset
    image = f"{plugin.root}/volumes/{vol.volume_id}.img"
    with open(image, "rb") as f:
        f.seek(1 << 20)
        assert f.read(4096) == payload


def test_block_multi_node_multi_writer_refused(plugin):
    request = pb.CreateVolumeRequest(name="hull-csi-test-mnmw", parameters={"backend": "loop"},
                                     volume_capabilities=[block_cap(MODE.MULTI_NODE_MULTI_WRITER)])
    assert code_of(plugin.controller.CreateVolume, request) == grpc.StatusCode.INVALID_ARGUMENT
    assert not os.listdir(f"{plugin.root}/volumes")  # nothing half-created


def test_read_only_block_publication_refuses_writes(plugin):
    """A bind mount's ro flag does not stop writes to a device node: a
    read-only raw block publication gets its own read-only loop device."""
    cap = block_cap()
    vol = plugin.create("hull-csi-test-block-ro", 16 << 20, "loop", caps=[cap])
    staging, rw, ro = (f"{plugin.base}/{n}" for n in ("staging", "rw", "ro"))
    plugin.stage(vol.volume_id, staging, cap)
    plugin.publish(vol.volume_id, staging, rw, block_cap(MODE.SINGLE_NODE_MULTI_WRITER))
    plugin.publish(vol.volume_id, staging, ro, block_cap(MODE.SINGLE_NODE_MULTI_WRITER),
                   readonly=True)
    fd = os.open(rw, os.O_RDWR | os.O_DIRECT)
    try:
        import mmap
        block = mmap.mmap(-1, 4096)
        block.write(b"through the writer" + b"\0" * (4096 - 18))
        os.pwrite(fd, block, 0)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as info:  # refused at open or at write, by kernel version
        fd = os.open(ro, os.O_WRONLY)
        try:
            os.write(fd, b"\0" * 512)
        finally:
            os.close(fd)
    assert info.value.errno in (1, 13, 30)  # EPERM, EACCES or EROFS
    fd = os.open(ro, os.O_RDONLY | os.O_DIRECT)
    try:
        readback = mmap.mmap(-1, 4096)
        os.preadv(fd, [readback], 0)
        assert bytes(readback[:18]) == b"through the writer"
    finally:
        os.close(fd)
    image = f"{plugin.root}/volumes/{vol.volume_id}.img"
    assert len(loop.find_by_backing(image)) == 2
    plugin.unpublish(vol.volume_id, ro)
    assert len(loop.find_by_backing(image)) == 1  # the read-only device went with it
    plugin.unpublish(vol.volume_id, rw)
    plugin.unstage(vol.volume_id, staging)
    assert loop.find_by_backing(image) == []
