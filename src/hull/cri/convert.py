"""Store records -> CRI messages."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri.model import Container, Sandbox


def sandbox_status(sb: Sandbox) -> api.PodSandboxStatus:
    status = api.PodSandboxStatus(id=sb.id, metadata=sb.metadata, state=sb.state.cri,
                                  created_at=sb.created_at, labels=sb.config.labels,
                                  annotations=sb.config.annotations,
                                  runtime_handler=sb.runtime_handler)
    if sb.ips:
        status.network.ip = sb.ips[0]
        status.network.additional_ips.extend(api.PodIP(ip=ip) for ip in sb.ips[1:])
    opts = status.linux.namespaces.options
    opts.CopyFrom(sb.config.linux.security_context.namespace_options)
    return status


def sandbox_item(sb: Sandbox) -> api.PodSandbox:
    return api.PodSandbox(id=sb.id, metadata=sb.metadata, state=sb.state.cri,
                          created_at=sb.created_at, labels=sb.config.labels,
                          annotations=sb.config.annotations, runtime_handler=sb.runtime_handler)


def image_spec(c: Container) -> api.ImageSpec:
    spec = api.ImageSpec()
    spec.CopyFrom(c.config.image)
    spec.image = c.image_name or c.config.image.image
    return spec


def container_item(c: Container) -> api.Container:
    return api.Container(id=c.id, pod_sandbox_id=c.sandbox_id, metadata=c.metadata,
                         image=image_spec(c), image_ref=c.image_ref, state=c.state.cri,
                         created_at=c.created_at, labels=c.config.labels,
                         annotations=c.config.annotations, image_id=c.image_id)


def container_status(c: Container) -> api.ContainerStatus:
    status = api.ContainerStatus(
        id=c.id, metadata=c.metadata, state=c.state.cri, created_at=c.created_at,
        started_at=c.started_at, finished_at=c.finished_at, exit_code=c.exit_code,
        image=image_spec(c), image_ref=c.image_ref, reason=c.reason, message=c.message,
        labels=c.config.labels, annotations=c.config.annotations,
        mounts=c.config.mounts, log_path=c.log_path, image_id=c.image_id,
        stop_signal=c.config.stop_signal)
    if c.resources:
        status.resources.linux.ParseFromString(c.resources)
    user = c.extra.get("user")
    if user:
        status.user.linux.uid = user["uid"]
        status.user.linux.gid = user["gid"]
        status.user.linux.supplemental_groups.extend(user["groups"])
    return status


def labels_match(labels, selector) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
