"""``loop`` volumes: a sparse image file per volume, used through a loop
device. The filesystem (ext4 or xfs) is made on first stage when the
image is blank, as block drivers do; raw block volumes get the device.

Loop devices are found again by backing file after a driver restart; a
device that vanished (host reboot) is attached again on the next stage.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator

from hull.csi import mounts, validate
from hull.csi.backends.base import Backend, MiB
from hull.csi.state import Snapshot, Staging, Volume
from hull.errors import FailedPrecondition, Internal, NotFound, from_oserror
from hull.sys import filecopy, fsfreeze, loop

log = logging.getLogger(__name__)

DEFAULT_FS = "ext4"
# 4 KiB logical blocks match the backing filesystem's: direct I/O from the
# loop device then never splits or read-modify-writes a host block
BLOCK_SIZE = 4096
# smallest images mkfs accepts with room to spare
# A fresh image is sparse: its inode tables already read as zeros, so the
# kernel's background zeroing (ext4lazyinit) would only compete with the
# workload's first writes and allocate space for nothing.
MOUNT_OPTIONS = {"ext4": ("noinit_itable",), "xfs": ()}
MIN_SIZE = {"ext4": 16 * MiB, "xfs": 300 * MiB, "": 16 * MiB}
MKFS = {
    "ext4": ["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "nodiscard"],
    "xfs": ["mkfs.xfs", "-q", "-f", "-K"],
}


def _run(argv: list[str], what: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except OSError as e:
        raise from_oserror(e, f"cannot {what}") from e
    if done.returncode != 0:
        raise Internal(f"cannot {what}: {argv[0]} exited {done.returncode}: "
                       f"{(done.stderr or done.stdout).strip()[:400]}")
    return done.stdout


def fs_on(device: str) -> str:
    """The filesystem type on a device, "" when blank."""
    done = subprocess.run(["blkid", "-p", "-s", "TYPE", "-o", "value", device],
                          capture_output=True, text=True, timeout=60)
    if done.returncode == 2:  # nothing found
        return ""
    if done.returncode != 0:
        raise Internal(f"cannot probe {device}: blkid exited {done.returncode}: "
                       f"{done.stderr.strip()}")
    return done.stdout.strip()


def grow_fs(device: str, fs_type: str, mount_point: str) -> None:
    """Grow a mounted filesystem to its device's size.

    Online ext4 growth is the EXT4_IOC_RESIZE_FS ioctl, which the kernel
    allows only with CAP_SYS_RESOURCE; without it the growth waits for the
    next stage, which grows ext4 offline before mounting.
    """
    if fs_type == "xfs":
        _run(["xfs_growfs", mount_point], f"grow xfs on {device}")
        return
    try:
        _run(["resize2fs", device], f"grow {fs_type} on {device}")
    except Internal as e:
        if "Permission denied" not in str(e):
            raise
        raise FailedPrecondition(
            f"cannot grow {fs_type} on {device} while mounted: the driver lacks "
            f"CAP_SYS_RESOURCE, which online ext4 resize needs; the filesystem grows "
            f"when the volume is next staged") from e


def grow_fs_offline(device: str, fs_type: str) -> None:
    """Grow an unmounted ext4 (resize2fs wants a fresh fsck first)."""
    if fs_type not in ("ext4", "ext3", "ext2"):
        return
    done = subprocess.run(["e2fsck", "-f", "-p", device], capture_output=True, text=True,
                          timeout=600)
    if done.returncode >= 4:  # 1 and 2 mean "errors corrected"
        raise Internal(f"cannot check {fs_type} on {device}: e2fsck exited "
                       f"{done.returncode}: {(done.stderr or done.stdout).strip()[:400]}")
    _run(["resize2fs", device], f"grow {fs_type} on {device}")


def _fs_size(device: str, fs_type: str) -> int:
    """Bytes an unmounted ext filesystem spans (dumpe2fs header)."""
    out = _run(["dumpe2fs", "-h", device], f"read {fs_type} on {device}")
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return int(fields["Block count"]) * int(fields["Block size"])


class LoopBackend(Backend):
    name = "loop"
    supports_block = True
    align = MiB

    def __init__(self, root: str, direct_io: bool = True):
        super().__init__(root)
        self.direct_io = direct_io

    def image(self, volume_id: str) -> str:
        return os.path.join(self.volumes_dir, f"{volume_id}.img")

    def snapshot_image(self, snapshot_id: str) -> str:
        return os.path.join(self.snapshots_dir, f"{snapshot_id}.img")

    def _tmp(self, directory: str, name: str) -> str:
        return os.path.join(directory, f".tmp-{name}.img")

    def min_size(self, fs_type: str) -> int:
        return MIN_SIZE.get(fs_type, MIN_SIZE[""])

    def check_capability(self, cap: validate.Capability, rpc: str) -> None:
        from hull.errors import InvalidArgument
        if cap.block and cap.mode == validate.MULTI_NODE_MULTI_WRITER:
            raise InvalidArgument(f"cannot {rpc}: MULTI_NODE_MULTI_WRITER is not supported "
                                  f"for raw block loop volumes (no cluster arbitration)")

    # ---- controller side ----

    def create(self, volume: Volume) -> None:
        tmp = self._tmp(self.volumes_dir, volume.id)
        self._remove_path(tmp)
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, volume.capacity)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, self.image(volume.id))

    def _copy_into(self, source: str, volume: Volume, freeze_at: str | None) -> None:
        if not os.path.exists(source):
            raise NotFound(f"cannot copy {source}: it is gone")
        with self._in_tmp(self.volumes_dir, volume.id) as tmp:
            with fsfreeze.frozen(freeze_at) if freeze_at else contextlib.nullcontext():
                filecopy.clone_file(source, tmp)
            if os.path.getsize(tmp) < volume.capacity:
                os.truncate(tmp, volume.capacity)  # the fs grows on stage
            os.rename(tmp, self.image(volume.id))

    def create_from_snapshot(self, volume: Volume, snapshot: Snapshot) -> None:
        self._copy_into(self.snapshot_image(snapshot.id), volume, None)

    def create_from_volume(self, volume: Volume, source: Volume,
                           source_mount: str | None) -> None:
        self._copy_into(self.image(source.id), volume, source_mount)

    def delete(self, volume_id: str) -> None:
        image = self.image(volume_id)
        for device in loop.find_by_backing(image):
            loop.detach(device)
        self._remove_path(image)

    def snapshot(self, volume: Volume, snapshot_id: str, source_mount: str | None) -> int:
        with self._in_tmp(self.snapshots_dir, snapshot_id) as tmp:
            with fsfreeze.frozen(source_mount) if source_mount else contextlib.nullcontext():
                filecopy.clone_file(self.image(volume.id), tmp)
            os.rename(tmp, self.snapshot_image(snapshot_id))
        return volume.capacity

    def delete_snapshot(self, snapshot_id: str) -> None:
        self._remove_path(self.snapshot_image(snapshot_id))

    def expand(self, volume: Volume, capacity: int) -> bool:
        image = self.image(volume.id)
        if os.path.getsize(image) < capacity:
            os.truncate(image, capacity)
        for device in loop.find_by_backing(image):
            loop.set_capacity(device)
        return not volume.block

    def present(self, volume: Volume) -> bool:
        return os.path.isfile(self.image(volume.id))

    # ---- node side ----

    def device(self, volume: Volume) -> str | None:
        """The volume's read-write device (read-only ones serve ro publications)."""
        found = [d for d in loop.find_by_backing(self.image(volume.id))
                 if not loop.read_only(d)]
        return found[0] if found else None

    def read_only_device(self, volume: Volume) -> str:
        """A fresh read-only device for one read-only raw block publication:
        a bind mount's ro flag does not stop writes to a device node."""
        try:
            return loop.attach(self.image(volume.id), read_only=True, direct_io=self.direct_io,
                               block_size=BLOCK_SIZE)
        except OSError as e:
            raise from_oserror(e, f"cannot attach volume {volume.id} read-only") from e

    def release_device(self, volume: Volume, device: str) -> None:
        """Detach a read-only publication's device (never the staged one)."""
        if loop.read_only(device) and loop.backing_file(device) == self.image(volume.id):
            loop.detach(device)

    def ensure_device(self, volume: Volume) -> str:
        """The volume's loop device, attaching the image when none is."""
        image = self.image(volume.id)
        if not os.path.isfile(image):
            raise NotFound(f"cannot attach volume {volume.id}: image {image} is gone")
        device = self.device(volume)
        if device:
            return device
        try:
            device = loop.attach(image, direct_io=self.direct_io, block_size=BLOCK_SIZE)
        except OSError as e:
            raise from_oserror(e, f"cannot attach volume {volume.id}") from e
        log.info("attached volume %s at %s", volume.id, device)
        return device

    def _format(self, volume: Volume, device: str, fs_type: str) -> str:
        existing = fs_on(device)
        if not existing:
            fs_type = fs_type or volume.fs_type or volume.parameters.get("fsType") or DEFAULT_FS
            _run(MKFS[fs_type] + [device], f"make {fs_type} on volume {volume.id}")
            return fs_type
        if fs_type and existing != fs_type:
            raise FailedPrecondition(f"cannot stage volume {volume.id} as {fs_type}: it "
                                     f"already holds {existing}")
        return existing

    def stage(self, volume: Volume, path: str, cap: validate.Capability) -> tuple[str, str]:
        device = self.ensure_device(volume)
        if cap.block:
            return device, ""
        mounted = mounts.mount_points().get(path)
        if mounted is not None:  # a repeated call, or a restart after this step
            return device, mounted.fstype
        try:
            fs_type = self._format(volume, device, cap.fs_type)
            if fs_type.startswith("ext") and \
                    _fs_size(device, fs_type) < loop.size_bytes(device) - MiB:
                grow_fs_offline(device, fs_type)
            mounts.mount_fs(device, path, fs_type,
                            MOUNT_OPTIONS.get(fs_type, ()) + tuple(cap.mount_flags))
            if fs_type == "xfs":
                self._grow_if_needed(volume, device, fs_type, path)
        except BaseException:
            if not mounts.is_mount_point(path):
                loop.detach(device)
            raise
        return device, fs_type

    def _grow_if_needed(self, volume: Volume, device: str, fs_type: str, path: str) -> None:
        """A volume made from a smaller snapshot carries a smaller filesystem."""
        st = os.statvfs(path)
        if st.f_blocks * st.f_frsize < loop.size_bytes(device) - 64 * MiB:
            grow_fs(device, fs_type, path)

    def unstage(self, volume: Volume, staging: Staging, last: bool) -> None:
        if not staging.block:
            mounts.unmount(staging.path)
        if last:
            for device in loop.find_by_backing(self.image(volume.id)):
                loop.detach(device)

    def node_expand(self, volume: Volume, staging: Staging | None, volume_path: str) -> int:
        device = self.device(volume)
        if device is None:
            raise FailedPrecondition(f"cannot expand volume {volume.id} on the node: it "
                                     f"is not staged")
        loop.set_capacity(device)
        size = loop.size_bytes(device)
        if staging is not None and not staging.block:
            fs_type = staging.fs_type or fs_on(device)
            if fs_type == "xfs" or _fs_size(device, fs_type) < size - MiB:
                grow_fs(device, fs_type, staging.path)
        return size

    @contextlib.contextmanager
    def files(self, volume: Volume, staged_mount: str | None,
              format_blank: bool = False) -> Iterator[str]:
        if staged_mount:
            yield staged_mount
            return
        attached_before = self.device(volume)
        device = self.ensure_device(volume)
        scratch = tempfile.mkdtemp(prefix=f"{volume.id}-", dir=self.scratch_dir)
        try:
            if not format_blank and not fs_on(device):
                raise FailedPrecondition(f"cannot read files of volume {volume.id}: it holds "
                                         f"no filesystem (a raw block volume?)")
            fs_type = self._format(volume, device, "")
            mounts.mount_fs(device, scratch, fs_type, MOUNT_OPTIONS.get(fs_type, ()))
            try:
                yield scratch
            finally:
                mounts.unmount(scratch)
        finally:
            os.rmdir(scratch)
            if not attached_before:
                loop.detach(device)

    def _mine(self, entry: str) -> bool:
        return entry.endswith(".img")
