"""The CSI Node service: stage, publish, stats and expansion on this node.

Staging makes the volume usable once per node (dir: bind mount of the
volume directory; loop: attach the image, mkfs when blank, mount);
publishing bind-mounts the staged directory, or for raw block volumes
the loop device node onto a file, at each workload's target path.
Every step checks mountinfo first, so repeating a call (or calling again
after a driver restart) finishes the work instead of doing it twice.
"""

from __future__ import annotations

import contextlib
import logging
import os

from hull._generated import csi_pb2, csi_pb2_grpc
from hull.csi import mounts, validate
from hull.csi.driver import Driver
from hull.csi.state import Publication, Staging, Volume
from hull.errors import (AlreadyExists, FailedPrecondition, InvalidArgument, NotFound,
                         from_oserror)

log = logging.getLogger(__name__)

RPC = csi_pb2.NodeServiceCapability.RPC
CAPABILITIES = (RPC.STAGE_UNSTAGE_VOLUME, RPC.GET_VOLUME_STATS, RPC.EXPAND_VOLUME,
                RPC.VOLUME_CONDITION, RPC.SINGLE_NODE_MULTI_WRITER)
Usage = csi_pb2.VolumeUsage


class NodeService(csi_pb2_grpc.NodeServicer):
    def __init__(self, driver: Driver):
        self.driver = driver
        self.state = driver.state

    def _path(self, value: str, field: str, rpc: str) -> str:
        path = validate.path(value, field, rpc)
        validate.under(path, self.driver.config.allowed_roots, field, rpc)
        real, root = os.path.realpath(path), os.path.realpath(self.driver.config.root)
        if real == "/" or real == root or real.startswith(root + "/"):
            raise InvalidArgument(f"cannot {rpc}: {field} {value!r} is / or inside the "
                                  f"driver's own root")
        return path

    def _capability(self, request, rpc: str) -> validate.Capability:
        if not request.HasField("volume_capability"):
            validate.require(None, "volume_capability", rpc)
        return validate.capability(request.volume_capability, rpc)

    # ---- stage ----

    def NodeStageVolume(self, request, context):
        rpc = "stage volume"
        validate.require(request.volume_id, "volume_id", rpc)
        path = self._path(request.staging_target_path, "staging_target_path", rpc)
        cap = self._capability(request, rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            backend = self.driver.backend(volume)
            if cap.block and not backend.supports_block:  # spec: "Exceeds capabilities"
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: a {volume.backend} "
                                         f"volume has no block device")
            backend.check_capability(cap, rpc)
            recorded = self.state.staging(path)
            if recorded is not None:
                self._same_staging(recorded, volume, cap, rpc)
            os.makedirs(path, exist_ok=True)
            device, fs_type = backend.stage(volume, path, cap)
            if fs_type and fs_type != volume.fs_type:
                self.state.set_fs_type(volume.id, fs_type)
            if recorded is None:
                with contextlib.ExitStack() as undo:
                    undo.callback(self._undo_stage, volume, path, cap, device)
                    self.state.record_staging(Staging(volume.id, path, device, cap.block,
                                                      fs_type, list(cap.mount_flags)))
                    undo.pop_all()
            elif recorded.device != device:
                self.state.set_staging_device(path, device)
        log.info("staged volume %s at %s%s", volume.id, path, f" ({device})" if device else "")
        return csi_pb2.NodeStageVolumeResponse()

    def _same_staging(self, recorded: Staging, volume: Volume, cap, rpc: str) -> None:
        if recorded.volume_id != volume.id:
            raise AlreadyExists(f"cannot {rpc} {volume.id}: {recorded.path} already stages "
                                f"volume {recorded.volume_id}")
        same = (recorded.block == cap.block
                and (not cap.fs_type or not recorded.fs_type or cap.fs_type == recorded.fs_type)
                and list(cap.mount_flags) == recorded.mount_flags)
        if not same:
            raise AlreadyExists(f"cannot {rpc} {volume.id}: already staged at {recorded.path} "
                                f"with a different capability")

    def _undo_stage(self, volume: Volume, path: str, cap, device: str) -> None:
        staging = Staging(volume.id, path, device, cap.block)
        self.driver.backend(volume).unstage(volume, staging, last=not self.state.stagings(volume.id))

    def NodeUnstageVolume(self, request, context):
        rpc = "unstage volume"
        validate.require(request.volume_id, "volume_id", rpc)
        path = self._path(request.staging_target_path, "staging_target_path", rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            staging = self.state.staging(path)
            if staging is None or staging.volume_id != volume.id:
                if mounts.is_mount_point(path) and staging is None:
                    mounts.unmount(path)  # a mount from before a lost record
                return csi_pb2.NodeUnstageVolumeResponse()
            users = [p.path for p in self.state.publications(volume.id)
                     if p.staging_path == path]
            if users:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: still published at "
                                         f"{', '.join(users)}")
            others = [s for s in self.state.stagings(volume.id) if s.path != path]
            self.driver.backend(volume).unstage(volume, staging, last=not others)
            self.state.unrecord_staging(path)
        log.info("unstaged volume %s from %s", volume.id, path)
        return csi_pb2.NodeUnstageVolumeResponse()

    # ---- publish ----

    def NodePublishVolume(self, request, context):
        rpc = "publish volume on node"
        validate.require(request.volume_id, "volume_id", rpc)
        target = self._path(request.target_path, "target_path", rpc)
        cap = self._capability(request, rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            if not request.staging_target_path:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: staging_target_path "
                                         f"missing (the volume must be staged first)")
            staging_path = self._path(request.staging_target_path, "staging_target_path", rpc)
            staging = self.state.staging(staging_path)
            if staging is None or staging.volume_id != volume.id:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: it is not staged at "
                                         f"{staging_path}")
            if staging.block != cap.block:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: staged as "
                                         f"{'block' if staging.block else 'mount'}, asked for "
                                         f"{'block' if cap.block else 'mount'}")
            readonly = request.readonly or cap.mode in validate.READ_ONLY_MODES
            wanted = Publication(volume.id, target, staging_path, cap.block, readonly,
                                 list(cap.mount_flags))
            recorded = self.state.publication(target)
            if recorded is not None:
                if recorded != wanted:
                    raise AlreadyExists(f"cannot {rpc} {volume.id}: {target} is already "
                                        f"published with different arguments")
            else:
                others = self.state.publications(volume.id)
                if others and cap.mode not in validate.MULTI_PUBLISH_MODES:
                    raise FailedPrecondition(f"cannot {rpc} {volume.id}: already published at "
                                             f"{others[0].path} and {cap.mode_name} allows one")
            self._publish(volume, staging, wanted)
            if recorded is None:
                self.state.record_publication(wanted)
        log.info("published volume %s at %s", volume.id, target)
        return csi_pb2.NodePublishVolumeResponse()

    def _publish(self, volume: Volume, staging: Staging, p: Publication) -> None:
        if mounts.is_mount_point(p.path):
            return
        backend = self.driver.backend(volume)
        extra_device = None
        if p.block:
            device = backend.device(volume)
            if device is None:
                raise FailedPrecondition(f"cannot publish volume {volume.id}: its loop device "
                                         f"is gone; stage it again")
            if p.readonly:
                device = extra_device = backend.read_only_device(volume)
            if os.path.isdir(p.path) and not os.listdir(p.path):
                os.rmdir(p.path)  # a CO-made directory; a device needs a file to land on
            created = not os.path.exists(p.path)
            if created:
                with open(p.path, "a"):
                    pass
            source = device
        else:
            created = not os.path.exists(p.path)
            os.makedirs(p.path, exist_ok=True)
            source = staging.path
        try:
            mounts.bind(source, p.path, read_only=p.readonly, words=p.mount_flags)
        except OSError as e:
            if created:
                self._remove_target(p.path)
            if extra_device:
                backend.release_device(volume, extra_device)
            raise from_oserror(e, f"cannot publish volume {volume.id} at {p.path}") from e

    @staticmethod
    def _remove_target(path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)

    def NodeUnpublishVolume(self, request, context):
        rpc = "unpublish volume on node"
        validate.require(request.volume_id, "volume_id", rpc)
        target = self._path(request.target_path, "target_path", rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            recorded = self.state.publication(target)
            if recorded is not None and recorded.volume_id != volume.id:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: {target} "
                                         f"publishes volume {recorded.volume_id}")
            mounted = mounts.mount_points().get(target)
            if mounted is not None:
                mounts.unmount(target)
                if recorded is not None and recorded.block and recorded.readonly:
                    # the bind's root names the device node it carried
                    self.driver.backend(volume).release_device(
                        volume, "/dev/" + mounted.root.strip("/"))
            self._remove_target(target)
            if recorded is not None:
                self.state.unrecord_publication(target)
        log.info("unpublished volume %s from %s", request.volume_id, target)
        return csi_pb2.NodeUnpublishVolumeResponse()

    # ---- stats and expansion ----

    def _where(self, volume: Volume, path: str, rpc: str):
        """The staging or publication of ``volume`` at ``path``, else NotFound."""
        staging = self.state.staging(path)
        if staging is not None and staging.volume_id == volume.id:
            return staging, staging
        publication = self.state.publication(path)
        if publication is not None and publication.volume_id == volume.id:
            return publication, self.state.staging(publication.staging_path)
        raise NotFound(f"cannot {rpc}: volume {volume.id} is not staged or published at {path}")

    def _volume_path(self, volume: Volume, value: str, rpc: str) -> str:
        """volume_path of stats/expand: a path the volume is not at is NOT_FOUND
        (csi-sanity sends a relative "some/path" and expects exactly that)."""
        try:
            path = self._path(value, "volume_path", rpc)
        except InvalidArgument as e:
            raise NotFound(f"cannot {rpc}: volume {volume.id} is not at {value!r}") from e
        if not os.path.exists(path):
            raise NotFound(f"cannot {rpc}: path {path} does not exist")
        return path

    def NodeGetVolumeStats(self, request, context):
        rpc = "get volume stats"
        validate.require(request.volume_id, "volume_id", rpc)
        validate.require(request.volume_path, "volume_path", rpc)
        volume = self.driver.volume(request.volume_id, rpc)
        path = self._volume_path(volume, request.volume_path, rpc)
        place, _ = self._where(volume, path, rpc)
        condition = self.driver.condition(volume)
        if place.block:
            device = self.driver.backend(volume).device(volume)
            size = _device_size(device) if device else volume.capacity
            usage = [Usage(unit=Usage.BYTES, total=size)]
        else:
            if not mounts.is_mount_point(path):
                condition = csi_pb2.VolumeCondition(abnormal=True,
                                                    message=f"{path} is not mounted")
            st = os.statvfs(path)
            usage = [
                Usage(unit=Usage.BYTES, total=st.f_blocks * st.f_frsize,
                      available=st.f_bavail * st.f_frsize,
                      used=(st.f_blocks - st.f_bfree) * st.f_frsize),
                Usage(unit=Usage.INODES, total=st.f_files, available=st.f_favail,
                      used=st.f_files - st.f_ffree),
            ]
        return csi_pb2.NodeGetVolumeStatsResponse(usage=usage, volume_condition=condition)

    def NodeExpandVolume(self, request, context):
        rpc = "expand volume on node"
        validate.require(request.volume_id, "volume_id", rpc)
        validate.require(request.volume_path, "volume_path", rpc)
        cap = validate.capability(request.volume_capability, rpc) \
            if request.HasField("volume_capability") else None
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            path = self._volume_path(volume, request.volume_path, rpc)
            _, staging = self._where(volume, path, rpc)
            if request.HasField("capacity_range"):
                validate.capacity(request.capacity_range, volume.capacity, 1, 1,
                                  1 << 62, rpc)
                if request.capacity_range.required_bytes > volume.capacity:
                    raise FailedPrecondition(
                        f"cannot {rpc} {volume.id}: {request.capacity_range.required_bytes} "
                        f"bytes asked, the controller has expanded it to {volume.capacity}")
            if cap is not None and staging is not None and cap.block != staging.block:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: capability does not "
                                         f"match how it is staged")
            size = self.driver.backend(volume).node_expand(volume, staging, path)
        return csi_pb2.NodeExpandVolumeResponse(capacity_bytes=size)

    # ---- info ----

    def NodeGetCapabilities(self, request, context):
        return csi_pb2.NodeGetCapabilitiesResponse(capabilities=[
            csi_pb2.NodeServiceCapability(rpc=RPC(type=t)) for t in CAPABILITIES])

    def NodeGetInfo(self, request, context):
        config = self.driver.config
        return csi_pb2.NodeGetInfoResponse(node_id=config.node_id,
                                           max_volumes_per_node=config.max_volumes_per_node,
                                           accessible_topology=self.driver.topology())


def _device_size(device: str) -> int:
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
