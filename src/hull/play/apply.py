"""`hull play` and `hull down` as library calls.

``play`` checks everything it can before anything starts (names free,
references resolvable, host ports free, images present or pullable, claims
provisionable), records ConfigMaps, Secrets, claims and pods in the state
database, and waits for the agent to start the pods. If any pod fails to
start, everything this call made is removed again: nothing half-started.

``down`` marks the file's pods deleted, waits for the agent to stop and
remove them, forgets the file's ConfigMaps and Secrets, and deletes its
claims' volumes only when asked (``--volumes``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

import grpc

from hull import errors
from hull._generated import api_pb2 as api
from hull._generated import csi_pb2 as csi
from hull.play import daemons, translate, volumes
from hull.play.model import Claim, Manifest, Pod
from hull.play.state import State, encode_bytes

READY_TIMEOUT = 300.0


@dataclass
class PlayResult:
    pods: list[str] = field(default_factory=list)
    claims_created: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)


def _where(obj, kind: str) -> str:
    return f'{kind} "{obj.name}"' + (f" ({obj.source})" if obj.source else "")


def check_names(state: State, manifest: Manifest) -> None:
    for pod in manifest.pods:
        if state.pod(pod.key) is not None:
            raise errors.AlreadyExists(f'{_where(pod, "Pod")}: pods "{pod.name}" already exists '
                                       f"in namespace {pod.namespace} (run `hull down` first)")


def check_references(state: State, manifest: Manifest) -> None:
    """Every configMap, secret and claim a pod names exists (in the file or played earlier)."""
    def known(kind, ns, name, local):
        return local is not None or state.object(kind, f"{ns}/{name}") is not None

    for pod in manifest.pods:
        ns = pod.namespace
        for i, v in enumerate(pod.spec.get("volumes") or []):
            path = f"spec.volumes[{i}]"
            if v.get("persistentVolumeClaim") is not None:
                name = v["persistentVolumeClaim"]["claimName"]
                if not known("PersistentVolumeClaim", ns, name, manifest.claim(ns, name)):
                    raise errors.NotFound(f"{_where(pod, 'Pod')}: {path}.persistentVolumeClaim."
                                          f"claimName: Not found: persistentvolumeclaim "
                                          f"\"{name}\" (define it in the file)")
            for kind, field_name, ref in (("ConfigMap", "configMap", "name"),
                                          ("Secret", "secret", "secretName")):
                src = v.get(field_name)
                if src is None or src.get("optional"):
                    continue
                local = (manifest.config_map if kind == "ConfigMap" else manifest.secret)(
                    ns, src[ref])
                if not known(kind, ns, src[ref], local):
                    raise errors.NotFound(f"{_where(pod, 'Pod')}: {path}.{field_name}.{ref}: "
                                          f"Not found: {kind.lower()} \"{src[ref]}\"")
        ctx = translate.PodContext(pod=pod, uid="check", log_directory="")
        ctx.config_maps, ctx.secrets = _known_objects(state, manifest, ns)
        for group in ("initContainers", "containers"):
            for i, c in enumerate(pod.spec.get(group) or []):
                try:
                    translate.environment(ctx, c, f"spec.{group}[{i}]")
                except errors.NotFound as e:
                    raise errors.NotFound(f"{_where(pod, 'Pod')}: {e}") from None


def _known_objects(state: State, manifest: Manifest, namespace: str):
    config_maps, secrets = state.config_objects(namespace)
    config_maps.update({c.name: c for c in manifest.config_maps if c.namespace == namespace})
    secrets.update({s.name: s for s in manifest.secrets if s.namespace == namespace})
    return config_maps, secrets


def check_ports(state: State, manifest: Manifest) -> None:
    """A hostPort another pod or any process already holds is refused, naming the field."""
    taken: dict[tuple[int, str], str] = {}
    for row in state.pods():
        for c in (json.loads(row["doc"]).get("spec") or {}).get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("hostPort"):
                    taken[(p["hostPort"], p.get("protocol", "TCP"))] = row["key"]
    for pod in manifest.pods:
        for i, c in enumerate(pod.containers()):
            for j, p in enumerate(c.get("ports") or []):
                port = p.get("hostPort")
                if not port:
                    continue
                path = f"spec.containers[{i}].ports[{j}].hostPort"
                proto = p.get("protocol", "TCP")
                if (port, proto) in taken:
                    raise errors.FailedPrecondition(
                        f"{_where(pod, 'Pod')}: {path}: Invalid value: {port}: port {port}/"
                        f"{proto} is already used by pod {taken[(port, proto)]}")
                problem = _bind_problem(p.get("hostIP") or "0.0.0.0", port, proto)
                if problem:
                    raise errors.FailedPrecondition(
                        f"{_where(pod, 'Pod')}: {path}: Invalid value: {port}: {problem}")
                taken[(port, proto)] = pod.key


def _bind_problem(host: str, port: int, proto: str) -> str | None:
    if proto == "SCTP":
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "TCP" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return f"port {port}/{proto} is already in use on this machine"
            return f"cannot bind {host}:{port}/{proto}: {e.strerror}"
    return None


def ensure_images(cri, manifest: Manifest, say) -> list[str]:
    """Apply imagePullPolicy against hulld's ImageService; returns the images pulled."""
    pulled, checked = [], {}
    for pod in manifest.pods:
        for group in ("initContainers", "containers"):
            for i, c in enumerate(pod.spec.get(group) or []):
                image, policy = c["image"], c.get("imagePullPolicy", "IfNotPresent")
                if (image, policy) in checked:
                    continue
                path = f"spec.{group}[{i}].image"
                present = _present(cri, image)
                if policy == "Never" and not present:
                    raise errors.NotFound(f"{_where(pod, 'Pod')}: {path}: Not found: image "
                                          f"\"{image}\" is not present and imagePullPolicy is "
                                          f"Never (ErrImageNeverPull)")
                if policy == "Always" or (policy == "IfNotPresent" and not present):
                    try:
                        cri.images.PullImage(api.PullImageRequest(image=api.ImageSpec(image=image)),
                                             timeout=600)
                        pulled.append(image)
                        say(f"pulled image {image}")
                    except grpc.RpcError as e:
                        if not present:
                            raise errors.NotFound(
                                f"{_where(pod, 'Pod')}: {path}: cannot pull image \"{image}\" "
                                f"(ErrImagePull): {e.details() or e.code().name}") from e
                        say(f"warning: cannot pull {image} (imagePullPolicy {policy}): "
                            f"{e.details()}; using the local copy")
                checked[(image, policy)] = True
    return pulled


def _present(cri, image: str) -> bool:
    resp = cri.images.ImageStatus(api.ImageStatusRequest(image=api.ImageSpec(image=image)),
                                  timeout=30)
    return bool(resp.image.id)


def provision_claims(csi_client, state: State, manifest: Manifest, file: str,
                     undo: contextlib.ExitStack) -> list[str]:
    """CreateVolume per claim (idempotent by name: a played-before claim gets its data back)."""
    created = []
    for claim in manifest.claims:
        existing = state.object("PersistentVolumeClaim", claim.key)
        try:
            volume = csi_client.controller.CreateVolume(csi.CreateVolumeRequest(
                name=claim.volume_name,
                capacity_range=csi.CapacityRange(required_bytes=claim.size),
                volume_capabilities=[volumes.capability(claim.access_modes)],
                parameters=_claim_parameters(claim)), timeout=300).volume
        except grpc.RpcError as e:
            raise errors.InvalidArgument(
                f"{_where(claim, 'PersistentVolumeClaim')}: spec.resources.requests[storage]: "
                f"cannot provision {claim.size} bytes: {e.details() or e.code().name}") from e
        data = {"name": claim.name, "volume_id": volume.volume_id, "size": claim.size,
                "access_modes": claim.access_modes, "storage_class": claim.storage_class}
        state.put_object("PersistentVolumeClaim", claim.key, file, data)
        if existing is None:
            created.append(claim.key)
            undo.callback(_delete_claim, csi_client, state, claim.key, volume.volume_id)
    return created


def _claim_parameters(claim: Claim) -> dict[str, str]:
    # storageClassName picks the backend: "loop" (capacity enforced) or "dir"/default
    if claim.storage_class in ("loop", "hull-loop"):
        return {"backend": "loop"}
    return {}


def _delete_claim(csi_client, state: State, key: str, volume_id: str) -> None:
    with contextlib.suppress(grpc.RpcError):
        csi_client.controller.DeleteVolume(csi.DeleteVolumeRequest(volume_id=volume_id),
                                           timeout=120)
    state.delete_object("PersistentVolumeClaim", key)


def play(ep: daemons.Endpoints, manifest: Manifest, file: str, wait_ready: bool = False,
         timeout: float = READY_TIMEOUT, say=daemons.say) -> PlayResult:
    file = os.path.abspath(file)
    state = State(ep.root)
    try:
        check_names(state, manifest)
        check_references(state, manifest)
        check_ports(state, manifest)
        result = PlayResult()
        cri = daemons.ensure_hulld(ep)
        needs_csi = manifest.claims or any(
            v.get("persistentVolumeClaim") is not None
            for p in manifest.pods for v in p.spec.get("volumes") or [])
        csi_client = daemons.ensure_csi(ep) if needs_csi else None
        result.pulled = ensure_images(cri, manifest, say)
        with contextlib.ExitStack() as undo:
            _store_objects(state, manifest, file, undo)
            if csi_client is not None:
                result.claims_created = provision_claims(csi_client, state, manifest, file, undo)
            daemons.ensure_agent(ep)
            undo.callback(_delete_pods, state, [p.key for p in manifest.pods], timeout)
            for pod in manifest.pods:
                _add_pod(state, pod, file)
                result.pods.append(pod.key)
            wait(state, result.pods, ready=wait_ready, timeout=timeout)
            undo.pop_all()
        return result
    finally:
        state.close()


def _store_objects(state: State, manifest: Manifest, file: str, undo) -> None:
    for kind, objects in (("ConfigMap", manifest.config_maps), ("Secret", manifest.secrets)):
        for obj in objects:
            previous = state.object(kind, obj.key)
            state.put_object(kind, obj.key, file, encode_bytes(obj.data))
            if previous is None:
                undo.callback(state.delete_object, kind, obj.key)


def _add_pod(state: State, pod: Pod, file: str) -> None:
    containers = [(True, i, c["name"], c["image"]) for i, c in enumerate(pod.init_containers())]
    containers += [(False, i, c["name"], c["image"]) for i, c in enumerate(pod.containers())]
    state.add_pod(pod.key, pod.name, pod.namespace, str(uuid.uuid4()), file, pod.to_dict(),
                  containers)


def wait(state: State, keys: list[str], ready: bool, timeout: float) -> None:
    """Until every pod started (or, with ``ready``, is Ready or Succeeded); a failure raises."""
    deadline = time.monotonic() + timeout
    pending = list(keys)
    while pending:
        for key in list(pending):
            row = state.pod(key)
            if row is None:
                raise errors.Internal(f"cannot start pod {key}: it disappeared")
            problem = _failure(state, row)
            if problem:
                raise errors.FailedPrecondition(f"cannot start pod {key}: {problem}")
            if _done(state, row, ready):
                pending.remove(key)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise errors.DeadlineExceeded(f"cannot start pods {', '.join(pending)}: not "
                                          f"{'ready' if ready else 'started'} after {timeout:g}s")
        time.sleep(0.02)


def _failure(state: State, row) -> str | None:
    if row["phase"] == "Failed":
        return row["message"] or row["reason"]
    for c in state.containers(row["key"]):
        last = json.loads(c["last_state"]) if c["last_state"] else {}
        if c["reason"] in ("CreateContainerError", "StartError") or \
                last.get("reason") == "StartError":
            return f"container {c['name']} cannot run: {row['message']}"
    return None


def _done(state: State, row, ready: bool) -> bool:
    if row["phase"] == "Succeeded":
        return True
    if ready:
        return bool(row["ready"])
    containers = state.containers(row["key"])
    return bool(row["sandbox_id"]) and any(c["container_id"] for c in containers)


def _delete_pods(state: State, keys: list[str], timeout: float) -> None:
    for key in keys:
        state.update_pod(key, desired="deleted")
    deadline = time.monotonic() + timeout
    while any(state.pod(k) is not None for k in keys) and time.monotonic() < deadline:
        time.sleep(0.05)


def down(ep: daemons.Endpoints, manifest: Manifest | None, file: str, delete_volumes: bool,
         timeout: float = READY_TIMEOUT, say=daemons.say) -> list[str]:
    """Stop and remove what ``file`` made; returns the pod keys removed."""
    file = os.path.abspath(file)
    state = State(ep.root)
    try:
        keys = {row["key"] for row in state.pods_of_file(file)}
        if manifest is not None:
            keys |= {p.key for p in manifest.pods if state.pod(p.key) is not None}
        keys = sorted(keys)
        if keys:
            daemons.ensure_hulld(ep)
            if _needs_csi(state, keys):
                daemons.ensure_csi(ep)
            daemons.ensure_agent(ep)
            _delete_pods(state, keys, timeout)
            left = [k for k in keys if state.pod(k) is not None]
            if left:
                raise errors.DeadlineExceeded(f"cannot remove pods {', '.join(left)}: still "
                                              f"stopping after {timeout:g}s")
        for kind in ("ConfigMap", "Secret"):
            for row in state.objects(kind, file):
                state.delete_object(kind, row["key"])
        if delete_volumes:
            claim_keys = {r["key"] for r in state.objects("PersistentVolumeClaim", file)}
            if manifest is not None:
                claim_keys |= {c.key for c in manifest.claims}
            rows = [state.object("PersistentVolumeClaim", k) for k in sorted(claim_keys)]
            rows = [(k, r) for k, r in zip(sorted(claim_keys), rows) if r]
            if rows:
                client = daemons.ensure_csi(ep)
                for key, data in rows:
                    _delete_claim(client, state, key, data["volume_id"])
                    say(f"deleted claim {key} (volume {data['volume_id']})")
        return keys
    finally:
        state.close()


def _needs_csi(state: State, keys: list[str]) -> bool:
    for key in keys:
        row = state.pod(key)
        spec = json.loads(row["doc"]).get("spec") or {}
        if any(v.get("persistentVolumeClaim") is not None for v in spec.get("volumes") or []):
            return True
    return False
