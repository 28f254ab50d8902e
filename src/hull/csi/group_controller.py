"""The CSI GroupController service: crash-consistent snapshots of several
volumes at once, kept as ordinary snapshots tagged with their group.

The mounted loop filesystems of all members are frozen together while
the members are copied, so they show one instant; all members are recorded
in one transaction, so a group exists whole or not at all.
"""

from __future__ import annotations

import contextlib
import logging

from hull._generated import csi_pb2, csi_pb2_grpc
from hull.csi import validate
from hull.csi.controller import ControllerService, new_id
from hull.csi.driver import Driver
from hull.csi.state import GroupSnapshot
from hull.errors import AlreadyExists, InvalidArgument, NotFound
from hull.sys import fsfreeze

log = logging.getLogger(__name__)

RPC = csi_pb2.GroupControllerServiceCapability.RPC


class GroupControllerService(csi_pb2_grpc.GroupControllerServicer):
    def __init__(self, driver: Driver, controller: ControllerService):
        self.driver = driver
        self.state = driver.state
        self.controller = controller

    def GroupControllerGetCapabilities(self, request, context):
        return csi_pb2.GroupControllerGetCapabilitiesResponse(capabilities=[
            csi_pb2.GroupControllerServiceCapability(
                rpc=RPC(type=RPC.CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT))])

    def _message(self, group: GroupSnapshot) -> csi_pb2.VolumeGroupSnapshot:
        members = self.state.snapshots(group_id=group.id)
        message = csi_pb2.VolumeGroupSnapshot(
            group_snapshot_id=group.id, ready_to_use=True,
            snapshots=[self.driver.snapshot_message(s) for s in members])
        message.creation_time.FromNanoseconds(int(group.created * 1e9))
        return message

    def CreateVolumeGroupSnapshot(self, request, context):
        rpc = "create volume group snapshot"
        name = validate.name(request.name, "name", rpc)
        sources = list(request.source_volume_ids)
        validate.require(sources, "source_volume_ids", rpc)
        if len(set(sources)) != len(sources):
            raise InvalidArgument(f"cannot {rpc}: source_volume_ids repeats a volume")
        if request.parameters:
            raise InvalidArgument(f"cannot {rpc}: group snapshots take no parameters")
        with self.driver.locks.hold(f"group-name:{name}"):
            existing = self.state.group_by_name(name)
            if existing is not None:
                if sorted(existing.source_volume_ids) != sorted(sources):
                    raise AlreadyExists(f"cannot {rpc} {name}: a group snapshot of that name "
                                        f"exists for other volumes")
                return csi_pb2.CreateVolumeGroupSnapshotResponse(
                    group_snapshot=self._message(existing))
            for volume_id in sources:
                self.driver.volume(volume_id, rpc)
            group = GroupSnapshot(id=new_id("group"), name=name, source_volume_ids=sources)
            with contextlib.ExitStack() as undo:
                members = []
                with self._frozen(sources):
                    for volume_id in sources:
                        snap = self.controller.cut_snapshot(volume_id, f"{name}/{volume_id}",
                                                            group.id, rpc, freeze=False)
                        undo.callback(self.driver.backends[snap.backend].delete_snapshot,
                                      snap.id)
                        members.append(snap)
                self.state.add_group(group, members)
                undo.pop_all()
        log.info("created group snapshot %s of %s", group.id, ", ".join(sources))
        return csi_pb2.CreateVolumeGroupSnapshotResponse(group_snapshot=self._message(group))

    @contextlib.contextmanager
    def _frozen(self, volume_ids):
        """Freeze every mounted loop filesystem of the group at once, so all
        members show the same instant. Dir volumes share the host filesystem
        and are copied as they are (freezing them would freeze the host)."""
        with contextlib.ExitStack() as stack:
            for volume_id in volume_ids:
                volume = self.state.volume(volume_id)
                mount = self.driver.staged_mount(volume_id)
                if volume is not None and volume.backend == "loop" and mount:
                    stack.enter_context(fsfreeze.frozen(mount))
            yield

    def DeleteVolumeGroupSnapshot(self, request, context):
        rpc = "delete volume group snapshot"
        validate.require(request.group_snapshot_id, "group_snapshot_id", rpc)
        with self.driver.locks.hold(f"group:{request.group_snapshot_id}"):
            group = self.state.group(request.group_snapshot_id)
            if group is None:
                return csi_pb2.DeleteVolumeGroupSnapshotResponse()
            members = self.state.snapshots(group_id=group.id)
            given = set(request.snapshot_ids)
            if given and given != {s.id for s in members}:
                raise InvalidArgument(f"cannot {rpc} {group.id}: snapshot_ids do not match "
                                      f"the group's members")
            for snap in members:
                self.driver.backends[snap.backend].delete_snapshot(snap.id)
            self.state.remove_group(group.id)
        return csi_pb2.DeleteVolumeGroupSnapshotResponse()

    def GetVolumeGroupSnapshot(self, request, context):
        rpc = "get volume group snapshot"
        validate.require(request.group_snapshot_id, "group_snapshot_id", rpc)
        group = self.state.group(request.group_snapshot_id)
        if group is None:
            raise NotFound(f"cannot {rpc}: group snapshot {request.group_snapshot_id} "
                           f"does not exist")
        given = set(request.snapshot_ids)
        members = {s.id for s in self.state.snapshots(group_id=group.id)}
        if given and given != members:
            raise InvalidArgument(f"cannot {rpc} {group.id}: snapshot_ids do not match "
                                  f"the group's members")
        return csi_pb2.GetVolumeGroupSnapshotResponse(group_snapshot=self._message(group))
