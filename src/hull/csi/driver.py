"""What the three services share: configuration, state, locks, backends,
and the conversions from state rows to CSI messages.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from hull._generated import csi_pb2
from hull.csi import backends, mounts
from hull.csi.locks import KeyedLocks
from hull.csi.state import Snapshot, State, Volume
from hull.errors import NotFound

log = logging.getLogger(__name__)

PLUGIN_NAME = "csi.hull.dev"
TOPOLOGY_KEY = "topology.hull.dev/node"


@dataclass
class Config:
    node_id: str
    root: str
    max_volumes_per_node: int = 0
    mutable_parameters: tuple[str, ...] = ()
    default_backend: str = "dir"
    # staging/target paths must lie under one of these when set
    allowed_roots: tuple[str, ...] = ()
    lock_timeout: float = 60.0


class Driver:
    def __init__(self, config: Config):
        self.config = config
        os.makedirs(config.root, exist_ok=True)
        self.state = State(os.path.join(config.root, "state.db"))
        self.locks = KeyedLocks(config.lock_timeout)
        self.backends = {name: backends.make(name, config.root) for name in backends.NAMES}
        self._topology = self.topology()  # copied into every Volume message

    # ---- lookups ----

    def backend(self, volume: Volume) -> backends.Backend:
        return self.backends[volume.backend]

    def volume(self, volume_id: str, rpc: str) -> Volume:
        volume = self.state.volume(volume_id)
        if volume is None:
            raise NotFound(f"cannot {rpc}: volume {volume_id} does not exist")
        return volume

    def topology(self) -> csi_pb2.Topology:
        return csi_pb2.Topology(segments={TOPOLOGY_KEY: self.config.node_id})

    # ---- state -> messages ----

    def volume_message(self, volume: Volume) -> csi_pb2.Volume:
        message = csi_pb2.Volume()
        self.fill_volume(message, volume)
        return message

    def fill_volume(self, message: csi_pb2.Volume, volume: Volume) -> None:
        """Fill a response's Volume in place: building it by keyword arguments
        and copying it into the response costs three times as much."""
        message.volume_id = volume.id
        message.capacity_bytes = volume.capacity
        # volume_context must never change: only what was fixed at creation
        message.volume_context["backend"] = volume.backend
        if volume.parameters.get("fsType"):
            message.volume_context["fsType"] = volume.parameters["fsType"]
        message.accessible_topology.append(self._topology)
        if volume.source_kind == "snapshot":
            message.content_source.snapshot.snapshot_id = volume.source_id
        elif volume.source_kind == "volume":
            message.content_source.volume.volume_id = volume.source_id

    def snapshot_message(self, snapshot: Snapshot) -> csi_pb2.Snapshot:
        message = csi_pb2.Snapshot(snapshot_id=snapshot.id, size_bytes=snapshot.size,
                                   source_volume_id=snapshot.source_volume_id,
                                   ready_to_use=True, group_snapshot_id=snapshot.group_id)
        message.creation_time.FromNanoseconds(int(snapshot.created * 1e9))
        return message

    def condition(self, volume: Volume, points: dict | None = None) -> csi_pb2.VolumeCondition:
        """Abnormal when the backing storage or an expected mount is gone."""
        backend = self.backend(volume)
        if not backend.present(volume):
            return csi_pb2.VolumeCondition(abnormal=True,
                                           message=f"backing storage of {volume.id} is missing")
        points = mounts.mount_points() if points is None else points
        for staging in self.state.stagings(volume.id):
            if not staging.block and staging.path not in points:
                return csi_pb2.VolumeCondition(
                    abnormal=True, message=f"staging mount {staging.path} is missing")
        return csi_pb2.VolumeCondition(abnormal=False, message="volume is healthy")

    def in_use(self, volume_id: str) -> str:
        """Why a volume cannot go away now, or ""."""
        if self.state.publications(volume_id):
            return "it is published on the node"
        if self.state.stagings(volume_id):
            return "it is staged on the node"
        attachments = self.state.attachments(volume_id=volume_id)
        if attachments:
            return f"it is attached to node {attachments[0].node_id}"
        return ""

    def staged_mount(self, volume_id: str) -> str | None:
        """A filesystem staging of the volume that is mounted now, if any."""
        points = mounts.mount_points()
        for staging in self.state.stagings(volume_id):
            if not staging.block and staging.path in points:
                return staging.path
        return None

    # ---- start-up ----

    def recover(self) -> None:
        """Reconcile state with the kernel after a (re)start.

        Loop devices and mounts outlive the driver; they are found again by
        backing file and mountinfo. Stagings whose mount vanished (host
        reboot) stay recorded: the CO's next NodeStageVolume re-attaches.
        Half-created storage from a crashed call is removed.
        """
        volumes = {v.id for v in self.state.volumes()}
        snapshots = {s.id for s in self.state.snapshots()}
        for backend in self.backends.values():
            for path in backend.sweep(volumes, snapshots):
                log.info("removed leftover %s", path)
        points = mounts.mount_points()
        for staging in self.state.stagings():
            volume = self.state.volume(staging.volume_id)
            device = self.backend(volume).device(volume) if volume else None
            mounted = staging.block or staging.path in points
            if device != (staging.device or None):
                self.state.set_staging_device(staging.path, device or "")
            log.info("staging of %s at %s: device %s, %s", staging.volume_id, staging.path,
                     device or "none", "mounted" if mounted else "not mounted")

    def close(self) -> None:
        self.state.close()
