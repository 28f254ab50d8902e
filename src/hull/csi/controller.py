"""The CSI Controller service: provisioning, snapshots, attach, expansion.

Each handler validates its arguments first (INVALID_ARGUMENT names the
missing field), then takes the per-name or per-id lock, then acts.
Creating handlers undo partial work on failure (ExitStack), deleting
handlers succeed when the object is already gone.
"""

from __future__ import annotations

import contextlib
import logging
import os

from hull._generated import csi_pb2, csi_pb2_grpc
from hull.csi import mounts, pagination, validate
from hull.csi.backends import NAMES as BACKENDS
from hull.csi.driver import TOPOLOGY_KEY, Driver
from hull.csi.state import Attachment, Snapshot, Volume
from hull.errors import (AlreadyExists, FailedPrecondition, InvalidArgument, NotFound,
                         OutOfRange, ResourceExhausted)

log = logging.getLogger(__name__)

RPC = csi_pb2.ControllerServiceCapability.RPC
CAPABILITIES = (
    RPC.CREATE_DELETE_VOLUME, RPC.PUBLISH_UNPUBLISH_VOLUME, RPC.LIST_VOLUMES,
    RPC.GET_CAPACITY, RPC.CREATE_DELETE_SNAPSHOT, RPC.LIST_SNAPSHOTS, RPC.CLONE_VOLUME,
    RPC.PUBLISH_READONLY, RPC.EXPAND_VOLUME, RPC.LIST_VOLUMES_PUBLISHED_NODES,
    RPC.VOLUME_CONDITION, RPC.GET_VOLUME, RPC.SINGLE_NODE_MULTI_WRITER,
)
# advertised only with --mutable-parameters: without them there is nothing to
# modify, and older csi-sanity releases fail on capabilities they do not know
# StorageClass parameters the driver reads; the CO's own keys are ignored
PARAMETERS = ("backend", "fsType")
KNOWN_PARAMETERS = frozenset(PARAMETERS)
CO_PREFIX = "csi.storage.k8s.io/"


def new_id(kind: str) -> str:
    # 128 random bits, as uuid4 carries (122), at a quarter of its cost
    return f"{kind}-{os.urandom(16).hex()}"


def _after_answer(context, work) -> None:
    """Run ``work`` once the call's answer is sent (at once without a gRPC context)."""
    if context is None or not context.add_callback(work):
        work()


class ControllerService(csi_pb2_grpc.ControllerServicer):
    def __init__(self, driver: Driver):
        self.driver = driver
        self.state = driver.state

    # ---- parameters ----

    def _parameters(self, parameters, rpc: str) -> dict:
        # by key: the protobuf map's items() is the pure-Python Mapping mixin
        params = {k: parameters[k] for k in parameters if not k.startswith(CO_PREFIX)}
        if not params.keys() <= KNOWN_PARAMETERS:
            unknown = sorted(set(params) - KNOWN_PARAMETERS)
            raise InvalidArgument(f"cannot {rpc}: unknown parameter(s) {', '.join(unknown)} "
                                  f"(known: {', '.join(PARAMETERS)})")
        if params.get("backend", self.driver.config.default_backend) not in BACKENDS:
            raise InvalidArgument(f"cannot {rpc}: backend {params['backend']!r} is not one of "
                                  f"{', '.join(BACKENDS)}")
        if params.get("fsType", "") not in ("",) + validate.FS_TYPES:
            raise InvalidArgument(f"cannot {rpc}: fsType {params['fsType']!r} is not "
                                  f"supported (supported: {', '.join(validate.FS_TYPES)})")
        return params

    def _mutable(self, mutable, rpc: str) -> dict:
        if not mutable:
            return {}
        allowed = self.driver.config.mutable_parameters
        unknown = sorted(set(mutable) - set(allowed))
        if unknown:
            raise InvalidArgument(f"cannot {rpc}: parameter(s) {', '.join(unknown)} are not "
                                  f"mutable (mutable: {', '.join(allowed) or 'none'})")
        return dict(mutable)

    def _check_topology(self, requirement, rpc: str) -> None:
        requisite = list(requirement.requisite) if requirement else []
        if not requisite:
            return
        ours = {TOPOLOGY_KEY: self.driver.config.node_id}
        for topology in requisite:
            if all(ours.get(k) == v for k, v in topology.segments.items()):
                return
        raise ResourceExhausted(f"cannot {rpc}: volumes live on node "
                                f"{self.driver.config.node_id}, which is outside every "
                                f"requisite topology")

    # ---- CreateVolume ----

    def CreateVolume(self, request, context):
        rpc = "create volume"
        name = validate.name(request.name, "name", rpc)
        caps = validate.capabilities(request.volume_capabilities, rpc)
        params = self._parameters(request.parameters, rpc)
        mutable = self._mutable(request.mutable_parameters, rpc)
        self._check_topology(request.accessibility_requirements, rpc)
        with self.driver.locks.hold(f"volume-name:{name}"):
            existing = self.state.volume_by_name(name)
            if existing is not None:
                return self._existing(existing, request, params, caps, rpc)
            source = self._source(request, params, rpc)
            backend_name = params.get("backend") or (source.backend if source else
                                                     self.driver.config.default_backend)
            backend = self.driver.backends[backend_name]
            for cap in caps:
                backend.check_capability(cap, rpc)
            fs_type = params.get("fsType") or next((c.fs_type for c in caps if c.fs_type), "")
            capacity_range = request.capacity_range if request.HasField("capacity_range") else None
            default = source.size if source is not None else backend.default_size
            size = validate.capacity(capacity_range, default,
                                     backend.min_size(fs_type), backend.align,
                                     backend.max_size(), rpc)
            if source is not None and size < source.size:
                if capacity_range is not None and capacity_range.limit_bytes \
                        and capacity_range.limit_bytes < source.size:
                    raise OutOfRange(f"cannot {rpc} {name}: limit_bytes is below the "
                                     f"{source.size} bytes of its source")
                size = -(-source.size // backend.align) * backend.align
            volume = Volume(id=new_id("vol"), name=name, backend=backend_name, capacity=size,
                            fs_type=fs_type, block=all(c.block for c in caps),
                            parameters=params, mutable=mutable,
                            source_kind=source.kind if source else "",
                            source_id=source.id if source else "")
            self._provision(volume, source, rpc, context)
        log.info("created volume %s (%s, %s, %d bytes)", volume.id, name, backend_name, size)
        response = csi_pb2.CreateVolumeResponse()
        self.driver.fill_volume(response.volume, volume)
        return response

    def _existing(self, existing: Volume, request, params: dict, caps, rpc: str):
        """Same name again: the same volume if compatible, else ALREADY_EXISTS."""
        capacity_range = request.capacity_range if request.HasField("capacity_range") else None
        why = ""
        if not validate.fits(capacity_range, existing.capacity):
            why = f"its size is {existing.capacity} bytes"
        elif params.get("backend", existing.backend) != existing.backend:
            why = f"it uses backend {existing.backend}"
        elif params.get("fsType") and existing.fs_type and params["fsType"] != existing.fs_type:
            why = f"it has fs type {existing.fs_type}"
        elif self._source_key(request) != (existing.source_kind, existing.source_id):
            why = "it was made from a different content source"
        else:
            backend = self.driver.backend(existing)
            try:
                for cap in caps:
                    backend.check_capability(cap, rpc)
            except InvalidArgument as e:
                why = str(e)
        if why:
            raise AlreadyExists(f"cannot {rpc} {existing.name}: a volume of that name "
                                f"exists and is incompatible: {why}")
        response = csi_pb2.CreateVolumeResponse()
        self.driver.fill_volume(response.volume, existing)
        return response

    @staticmethod
    def _source_key(request) -> tuple[str, str]:
        kind = request.volume_content_source.WhichOneof("type") \
            if request.HasField("volume_content_source") else None
        if kind == "snapshot":
            return "snapshot", request.volume_content_source.snapshot.snapshot_id
        if kind == "volume":
            return "volume", request.volume_content_source.volume.volume_id
        return "", ""

    class _Source:
        def __init__(self, kind, id, backend, size, row):
            self.kind, self.id, self.backend, self.size, self.row = kind, id, backend, size, row

    def _source(self, request, params: dict, rpc: str):
        kind, source_id = self._source_key(request)
        if not kind:
            if request.HasField("volume_content_source"):
                raise InvalidArgument(f"cannot {rpc}: volume_content_source has no type")
            return None
        if not source_id:
            raise InvalidArgument(f"cannot {rpc}: {kind} source id missing in request")
        if kind == "snapshot":
            row = self.state.snapshot(source_id)
            if row is None:
                raise NotFound(f"cannot {rpc}: source snapshot {source_id} does not exist")
            source = self._Source(kind, source_id, row.backend, row.size, row)
        else:
            row = self.state.volume(source_id)
            if row is None:
                raise NotFound(f"cannot {rpc}: source volume {source_id} does not exist")
            source = self._Source(kind, source_id, row.backend, row.capacity, row)
        if params.get("backend", source.backend) != source.backend:
            raise InvalidArgument(f"cannot {rpc}: source {source_id} is a {source.backend} "
                                  f"volume, backend {params['backend']} cannot restore it")
        return source

    def _provision(self, volume: Volume, source, rpc: str, context) -> None:
        """Make the storage, then record it; if recording fails, remove the storage."""
        backend = self.driver.backend(volume)
        if source is None:
            _after_answer(context, backend.replenish)
            backend.create(volume)
        elif source.kind == "snapshot":
            with self.driver.locks.hold(f"snapshot:{source.id}"):  # vs DeleteSnapshot
                if self.state.snapshot(source.id) is None:
                    raise NotFound(f"cannot {rpc}: source snapshot {source.id} was "
                                   f"deleted meanwhile")
                backend.create_from_snapshot(volume, source.row)
        else:
            with self.driver.locks.hold(f"volume:{source.id}"):
                backend.create_from_volume(volume, source.row,
                                           self.driver.staged_mount(source.id))
        try:
            self.state.add_volume(volume)
        except BaseException:
            backend.delete(volume.id)
            raise

    # ---- DeleteVolume ----

    def DeleteVolume(self, request, context):
        rpc = "delete volume"
        validate.require(request.volume_id, "volume_id", rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.state.volume(request.volume_id)
            if volume is None:
                return csi_pb2.DeleteVolumeResponse()
            why = self.driver.in_use(volume.id)
            if why:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: {why}")
            with self.driver.locks.hold(f"volume-name:{volume.name}"):
                self.driver.backend(volume).delete(volume.id)
                self.state.remove_volume(volume.id)
        log.info("deleted volume %s", volume.id)
        return csi_pb2.DeleteVolumeResponse()

    # ---- publish ----

    def ControllerPublishVolume(self, request, context):
        rpc = "publish volume"
        validate.require(request.volume_id, "volume_id", rpc)
        validate.require(request.node_id, "node_id", rpc)
        if not request.HasField("volume_capability"):
            validate.require(None, "volume_capability", rpc)
        cap = validate.capability(request.volume_capability, rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            self.driver.backend(volume).check_capability(cap, rpc)
            attachments = self.state.attachments(volume_id=volume.id)
            for a in attachments:
                if a.node_id == request.node_id:
                    if a.readonly != request.readonly:
                        raise AlreadyExists(f"cannot {rpc} {volume.id}: already published to "
                                            f"node {a.node_id} with readonly={a.readonly}")
                    return self._published(volume)
            if attachments and cap.mode not in validate.MULTI_PUBLISH_MODES:
                raise FailedPrecondition(f"cannot {rpc} {volume.id}: it is published to node "
                                         f"{attachments[0].node_id} and {cap.mode_name} allows "
                                         f"one node")
            if request.node_id != self.driver.config.node_id:
                raise NotFound(f"cannot {rpc} {volume.id}: node {request.node_id} does not "
                               f"exist (this driver serves node {self.driver.config.node_id})")
            limit = self.driver.config.max_volumes_per_node
            if limit and len(self.state.attachments(node_id=request.node_id)) >= limit:
                raise ResourceExhausted(f"cannot {rpc} {volume.id}: node {request.node_id} "
                                        f"already has {limit} volumes attached (its limit)")
            self.state.attach(Attachment(volume.id, request.node_id, request.readonly))
        return self._published(volume)

    def _published(self, volume: Volume):
        return csi_pb2.ControllerPublishVolumeResponse(
            publish_context={"backend": volume.backend})

    def ControllerUnpublishVolume(self, request, context):
        rpc = "unpublish volume"
        validate.require(request.volume_id, "volume_id", rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            self.state.detach(request.volume_id, request.node_id)
        return csi_pb2.ControllerUnpublishVolumeResponse()

    # ---- queries ----

    def ValidateVolumeCapabilities(self, request, context):
        rpc = "validate volume capabilities"
        validate.require(request.volume_id, "volume_id", rpc)
        caps = validate.capabilities(request.volume_capabilities, rpc)
        volume = self.driver.volume(request.volume_id, rpc)
        backend = self.driver.backend(volume)
        problems = []
        for cap in caps:
            try:
                backend.check_capability(cap, rpc)
            except InvalidArgument as e:
                problems.append(str(e))
        context_given = dict(request.volume_context)
        expected = dict(self.driver.volume_message(volume).volume_context)
        if context_given and context_given != expected:
            problems.append(f"volume_context {context_given} does not match {expected}")
        params = dict(request.parameters)
        if params and {k: v for k, v in params.items() if not k.startswith(CO_PREFIX)} \
                != volume.parameters:
            problems.append("parameters differ from the volume's")
        if problems:
            return csi_pb2.ValidateVolumeCapabilitiesResponse(message="; ".join(problems))
        confirmed = csi_pb2.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=request.volume_context,
            volume_capabilities=request.volume_capabilities,
            parameters=request.parameters, mutable_parameters=request.mutable_parameters)
        return csi_pb2.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    def _status(self, volume: Volume, status_type, points: dict | None = None):
        nodes = [a.node_id for a in self.state.attachments(volume_id=volume.id)]
        status = status_type(published_node_ids=nodes)
        status.volume_condition.CopyFrom(self.driver.condition(volume, points))
        return status

    def ListVolumes(self, request, context):
        volumes, next_token = pagination.page(self.state.volumes(), request.max_entries,
                                              request.starting_token)
        Entry = csi_pb2.ListVolumesResponse.Entry
        points = mounts.mount_points()  # once per page, not per volume
        entries = [Entry(volume=self.driver.volume_message(v),
                         status=self._status(v, csi_pb2.ListVolumesResponse.VolumeStatus,
                                             points))
                   for v in volumes]
        return csi_pb2.ListVolumesResponse(entries=entries, next_token=next_token)

    def ControllerGetVolume(self, request, context):
        rpc = "get volume"
        validate.require(request.volume_id, "volume_id", rpc)
        volume = self.driver.volume(request.volume_id, rpc)
        return csi_pb2.ControllerGetVolumeResponse(
            volume=self.driver.volume_message(volume),
            status=self._status(volume, csi_pb2.ControllerGetVolumeResponse.VolumeStatus))

    def GetCapacity(self, request, context):
        rpc = "get capacity"
        params = self._parameters(request.parameters, rpc)
        caps = [validate.capability(c, rpc) for c in request.volume_capabilities]
        backend = self.driver.backends[params.get("backend", self.driver.config.default_backend)]
        if request.HasField("accessible_topology"):
            segment = request.accessible_topology.segments.get(TOPOLOGY_KEY)
            if segment not in (None, self.driver.config.node_id):
                return csi_pb2.GetCapacityResponse(available_capacity=0)
        for cap in caps:
            try:
                backend.check_capability(cap, rpc)
            except InvalidArgument:
                return csi_pb2.GetCapacityResponse(available_capacity=0)
        available = backend.max_size()
        response = csi_pb2.GetCapacityResponse(available_capacity=available)
        response.maximum_volume_size.value = available
        response.minimum_volume_size.value = backend.min_size(params.get("fsType", ""))
        return response

    def ControllerGetCapabilities(self, request, context):
        types = CAPABILITIES + ((RPC.MODIFY_VOLUME,) if self.driver.config.mutable_parameters
                                else ())
        return csi_pb2.ControllerGetCapabilitiesResponse(capabilities=[
            csi_pb2.ControllerServiceCapability(rpc=RPC(type=t)) for t in types])

    # ---- snapshots ----

    def CreateSnapshot(self, request, context):
        rpc = "create snapshot"
        validate.require(request.source_volume_id, "source_volume_id", rpc)
        name = validate.name(request.name, "name", rpc)
        if request.parameters:
            raise InvalidArgument(f"cannot {rpc}: snapshots take no parameters "
                                  f"(got {', '.join(sorted(request.parameters))})")
        with self.driver.locks.hold(f"snapshot-name:{name}"):
            existing = self.state.snapshot_by_name(name)
            if existing is not None:
                if existing.source_volume_id != request.source_volume_id:
                    raise AlreadyExists(f"cannot {rpc} {name}: a snapshot of that name exists "
                                        f"for volume {existing.source_volume_id}")
                return csi_pb2.CreateSnapshotResponse(
                    snapshot=self.driver.snapshot_message(existing))
            snapshot = self.cut_snapshot(request.source_volume_id, name, "", rpc)
            with contextlib.ExitStack() as undo:
                undo.callback(self.driver.backends[snapshot.backend].delete_snapshot,
                              snapshot.id)
                self.state.add_snapshot(snapshot)
                undo.pop_all()
        log.info("created snapshot %s of %s", snapshot.id, snapshot.source_volume_id)
        return csi_pb2.CreateSnapshotResponse(snapshot=self.driver.snapshot_message(snapshot))

    def cut_snapshot(self, volume_id: str, name: str, group_id: str, rpc: str,
                     freeze: bool = True) -> Snapshot:
        """Copy a volume into the snapshot store (no state row yet).

        ``freeze=False`` when the caller already froze the filesystem (a group).
        """
        with self.driver.locks.hold(f"volume:{volume_id}"):
            volume = self.state.volume(volume_id)
            if volume is None:
                raise NotFound(f"cannot {rpc}: source volume {volume_id} does not exist")
            snapshot_id = new_id("snap")
            backend = self.driver.backend(volume)
            mount = self.driver.staged_mount(volume.id) if freeze else None
            size = backend.snapshot(volume, snapshot_id, mount)
        return Snapshot(id=snapshot_id, name=name, source_volume_id=volume.id,
                        backend=volume.backend, size=size, group_id=group_id)

    def DeleteSnapshot(self, request, context):
        rpc = "delete snapshot"
        validate.require(request.snapshot_id, "snapshot_id", rpc)
        with self.driver.locks.hold(f"snapshot:{request.snapshot_id}"):
            snapshot = self.state.snapshot(request.snapshot_id)
            if snapshot is None:
                return csi_pb2.DeleteSnapshotResponse()
            if snapshot.group_id:
                raise FailedPrecondition(f"cannot {rpc} {snapshot.id}: it belongs to group "
                                         f"snapshot {snapshot.group_id}; delete the group")
            self.driver.backends[snapshot.backend].delete_snapshot(snapshot.id)
            self.state.remove_snapshot(snapshot.id)
        return csi_pb2.DeleteSnapshotResponse()

    def ListSnapshots(self, request, context):
        snapshots = self.state.snapshots(source_volume_id=request.source_volume_id,
                                         snapshot_id=request.snapshot_id)
        chosen, next_token = pagination.page(snapshots, request.max_entries,
                                             request.starting_token)
        Entry = csi_pb2.ListSnapshotsResponse.Entry
        return csi_pb2.ListSnapshotsResponse(
            entries=[Entry(snapshot=self.driver.snapshot_message(s)) for s in chosen],
            next_token=next_token)

    # ---- expansion and modification ----

    def ControllerExpandVolume(self, request, context):
        rpc = "expand volume"
        validate.require(request.volume_id, "volume_id", rpc)
        if not request.HasField("capacity_range"):
            validate.require(None, "capacity_range", rpc)
        cap = validate.capability(request.volume_capability, rpc) \
            if request.HasField("volume_capability") else None
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            backend = self.driver.backend(volume)
            if cap is not None:
                backend.check_capability(cap, rpc)
            limit = request.capacity_range.limit_bytes
            if limit and limit < volume.capacity:
                raise OutOfRange(f"cannot {rpc} {volume.id}: it holds {volume.capacity} bytes, "
                                 f"more than limit_bytes {limit}; volumes do not shrink")
            size = validate.capacity(request.capacity_range, volume.capacity, 1, backend.align,
                                     volume.capacity + backend.max_size(), rpc)
            if size <= volume.capacity:
                return csi_pb2.ControllerExpandVolumeResponse(
                    capacity_bytes=volume.capacity,
                    node_expansion_required=self._node_expansion(volume, cap))
            node_needed = backend.expand(volume, size)
            self.state.set_capacity(volume.id, size)
            volume.capacity = size
        log.info("expanded volume %s to %d bytes", volume.id, size)
        return csi_pb2.ControllerExpandVolumeResponse(
            capacity_bytes=size,
            node_expansion_required=node_needed and self._node_expansion(volume, cap))

    @staticmethod
    def _node_expansion(volume: Volume, cap) -> bool:
        if volume.backend != "loop":
            return False
        return not (cap.block if cap is not None else volume.block)

    def ControllerModifyVolume(self, request, context):
        rpc = "modify volume"
        validate.require(request.volume_id, "volume_id", rpc)
        validate.require(request.mutable_parameters, "mutable_parameters", rpc)
        mutable = self._mutable(request.mutable_parameters, rpc)
        with self.driver.locks.hold(f"volume:{request.volume_id}"):
            volume = self.driver.volume(request.volume_id, rpc)
            self.state.set_mutable(volume.id, {**volume.mutable, **mutable})
        return csi_pb2.ControllerModifyVolumeResponse()
