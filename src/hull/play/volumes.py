"""Pod volumes on the host, as kubelet's volume manager makes them.

Each volume becomes a path under ``<root>/play/pods/<uid>/volumes/<name>``
(hostPath volumes are the host path itself), which the containers get as
CRI mounts:

- emptyDir: a directory (mode 0777); ``medium: Memory`` a tmpfs (sizeLimit as its size).
- configMap / secret: their keys written as files (``items``, ``defaultMode``);
  secrets on a tmpfs so they never touch the disk; mounted read-only.
- hostPath: checked or created by ``type``.
- persistentVolumeClaim: the claim's CSI volume staged at
  ``<root>/play/staging/<volume id>`` and published at the pod's directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat

import grpc

from hull import errors
from hull._generated import csi_pb2 as csi
from hull.play import quantity
from hull.play.model import ConfigMap, Pod, Secret
from hull.play.state import Paths
from hull.sys import libc

log = logging.getLogger(__name__)

ACCESS_MODES = {
    "ReadWriteOnce": csi.VolumeCapability.AccessMode.SINGLE_NODE_WRITER,
    "ReadWriteOncePod": csi.VolumeCapability.AccessMode.SINGLE_NODE_SINGLE_WRITER,
    "ReadOnlyMany": csi.VolumeCapability.AccessMode.MULTI_NODE_READER_ONLY,
    "ReadWriteMany": csi.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER,
}


def capability(access_modes: list[str]) -> csi.VolumeCapability:
    mode = ACCESS_MODES.get((access_modes or ["ReadWriteOnce"])[0],
                            csi.VolumeCapability.AccessMode.SINGLE_NODE_WRITER)
    return csi.VolumeCapability(mount=csi.VolumeCapability.MountVolume(),
                                access_mode=csi.VolumeCapability.AccessMode(mode=mode))


class Prepared:
    def __init__(self):
        self.paths: dict[str, str] = {}
        self.read_only: set[str] = set()


def prepare(pod: Pod, uid: str, paths: Paths, config_maps: dict[str, ConfigMap],
            secrets: dict[str, Secret], claims: dict[str, dict], csi_client=None) -> Prepared:
    """Make every volume of the pod; on failure undo what was made and raise."""
    out = Prepared()
    with contextlib.ExitStack() as undo:
        undo.callback(cleanup, pod, uid, paths, claims, csi_client)
        for i, v in enumerate(pod.spec.get("volumes") or []):
            path = f"spec.volumes[{i}]"
            name = v["name"]
            target = paths.volume_dir(uid, name)
            if v.get("emptyDir") is not None:
                _empty_dir(target, v["emptyDir"] or {})
            elif v.get("hostPath") is not None:
                target = _host_path(v["hostPath"], f"{path}.hostPath")
            elif v.get("configMap") is not None:
                src = v["configMap"]
                _key_files(target, config_maps.get(src["name"]), src, False,
                           f"{path}.configMap.name", src["name"])
                out.read_only.add(name)
            elif v.get("secret") is not None:
                src = v["secret"]
                _key_files(target, secrets.get(src["secretName"]), src, True,
                           f"{path}.secret.secretName", src["secretName"])
                out.read_only.add(name)
            else:
                src = v["persistentVolumeClaim"]
                claim = claims.get(src["claimName"])
                if claim is None:
                    raise errors.NotFound(f"{path}.persistentVolumeClaim.claimName: Not found: "
                                          f"\"{src['claimName']}\"")
                _publish_claim(csi_client, claim, target, paths, bool(src.get("readOnly")))
                if src.get("readOnly"):
                    out.read_only.add(name)
            out.paths[name] = target
        undo.pop_all()
    return out


def _empty_dir(target: str, src: dict) -> None:
    os.makedirs(target, exist_ok=True)
    os.chmod(target, 0o777)
    if src.get("medium") == "Memory" and not _is_mount(target):
        options = "mode=0777"
        if src.get("sizeLimit") is not None:
            options += f",size={quantity.to_bytes(src['sizeLimit'])}"
        libc.mount("tmpfs", target, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, options)


def _host_path(src: dict, path: str) -> str:
    target, kind = src["path"], src.get("type", "")
    checks = {"Directory": stat.S_ISDIR, "File": stat.S_ISREG, "Socket": stat.S_ISSOCK,
              "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK}
    if kind == "DirectoryOrCreate":
        os.makedirs(target, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate":
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass
    elif kind in checks:
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            raise errors.NotFound(f"{path}.path: Not found: \"{target}\" (type {kind})") from None
        if not checks[kind](mode):
            raise errors.InvalidArgument(f"{path}.path: Invalid value: \"{target}\": "
                                         f"is not a {kind}")
    return target


def _key_files(target: str, obj, src: dict, secret: bool, path: str, name: str) -> None:
    if obj is None:
        if not src.get("optional"):
            raise errors.NotFound(f"{path}: Not found: \"{name}\"")
        data = {}
    else:
        data = obj.data
    os.makedirs(target, exist_ok=True)
    if secret and not _is_mount(target):
        libc.mount("tmpfs", target, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "mode=0755")
    mode = src.get("defaultMode", 0o644)
    items = src.get("items")
    if items is None:
        items = [{"key": k, "path": k} for k in data]
    for item in items:
        if item["key"] not in data:
            if src.get("optional"):
                continue
            raise errors.NotFound(f"{path}: Not found: key \"{item['key']}\" in \"{name}\"")
        dest = os.path.join(target, item["path"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = f"{dest}.tmp"
        with open(tmp, "wb") as f:
            f.write(data[item["key"]])
        os.chmod(tmp, item.get("mode", mode))
        os.rename(tmp, dest)


def _publish_claim(client, claim: dict, target: str, paths: Paths, readonly: bool) -> None:
    if client is None:
        raise errors.Unavailable("cannot mount a claim: hull-csi is not connected")
    volume_id = claim["volume_id"]
    cap = capability(claim.get("access_modes") or [])
    staging = paths.staging_dir(volume_id)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        client.controller.ControllerPublishVolume(csi.ControllerPublishVolumeRequest(
            volume_id=volume_id, node_id=client.node_id, volume_capability=cap,
            readonly=False), timeout=60)
        client.node.NodeStageVolume(csi.NodeStageVolumeRequest(
            volume_id=volume_id, staging_target_path=staging, volume_capability=cap),
            timeout=120)
        client.node.NodePublishVolume(csi.NodePublishVolumeRequest(
            volume_id=volume_id, staging_target_path=staging, target_path=target,
            volume_capability=cap, readonly=readonly), timeout=60)
    except grpc.RpcError as e:
        kind = errors.Unavailable if e.code() == grpc.StatusCode.UNAVAILABLE \
            else errors.FailedPrecondition
        raise kind(f"cannot mount claim {claim['name']} (volume {volume_id}): "
                                 f"{e.details() or e.code().name}") from e


def cleanup(pod: Pod, uid: str, paths: Paths, claims: dict[str, dict], csi_client=None,
            still_used: set[str] | None = None) -> None:
    """Undo ``prepare``: unpublish claims, unmount tmpfs, remove the pod's directory. Idempotent.

    ``still_used``: volume ids other pods have published; those stay staged.
    """
    for v in pod.spec.get("volumes") or []:
        target = paths.volume_dir(uid, v["name"])
        if v.get("persistentVolumeClaim") is not None:
            claim = claims.get(v["persistentVolumeClaim"]["claimName"])
            if claim and csi_client is not None:
                _unpublish_claim(csi_client, claim, target, paths, still_used or set())
        elif _is_mount(target):
            with contextlib.suppress(OSError):
                libc.umount(target, libc.MNT_DETACH)
    shutil.rmtree(paths.pod_dir(uid), ignore_errors=True)


def _unpublish_claim(client, claim: dict, target: str, paths: Paths, still_used: set[str]) -> None:
    volume_id = claim["volume_id"]
    try:
        client.node.NodeUnpublishVolume(csi.NodeUnpublishVolumeRequest(
            volume_id=volume_id, target_path=target), timeout=60)
        if volume_id in still_used:
            return
        client.node.NodeUnstageVolume(csi.NodeUnstageVolumeRequest(
            volume_id=volume_id, staging_target_path=paths.staging_dir(volume_id)), timeout=60)
        client.controller.ControllerUnpublishVolume(csi.ControllerUnpublishVolumeRequest(
            volume_id=volume_id, node_id=client.node_id), timeout=60)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.NOT_FOUND:
            log.warning("cannot unmount claim %s (volume %s): %s", claim["name"], volume_id,
                        e.details())


def _is_mount(path: str) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False
