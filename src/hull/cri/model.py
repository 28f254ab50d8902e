"""Sandbox and container records, and the lifecycle rules each verb checks."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from hull._generated import api_pb2 as api


class SandboxState(str, enum.Enum):
    CREATING = "creating"    # half made; cleaned up at restart
    READY = "ready"
    NOTREADY = "notready"    # stopped: processes gone, network torn down

    @property
    def cri(self) -> int:
        return api.SANDBOX_READY if self is SandboxState.READY else api.SANDBOX_NOTREADY


class ContainerState(str, enum.Enum):
    CREATING = "creating"    # half made; cleaned up at restart
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"

    @property
    def cri(self) -> int:
        return {ContainerState.CREATED: api.CONTAINER_CREATED,
                ContainerState.RUNNING: api.CONTAINER_RUNNING,
                ContainerState.EXITED: api.CONTAINER_EXITED}.get(self, api.CONTAINER_UNKNOWN)

    def can_start(self) -> bool:
        return self is ContainerState.CREATED

    def can_exec(self) -> bool:
        return self is ContainerState.RUNNING


def now_ns() -> int:
    return time.time_ns()


@dataclass
class Sandbox:
    id: str
    name: str
    config: api.PodSandboxConfig
    runtime_handler: str = ""
    state: SandboxState = SandboxState.CREATING
    created_at: int = field(default_factory=now_ns)
    #: pinned namespace files ("net", "ipc", "uts") and runtime details (json-able)
    namespaces: dict[str, str] = field(default_factory=dict)
    ips: list[str] = field(default_factory=list)
    cgroup_parent: str = ""
    #: infra container id when the pod shares one PID namespace
    infra_id: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def host_network(self) -> bool:
        ns = self.config.linux.security_context.namespace_options
        return ns.network == api.NODE

    @property
    def metadata(self) -> api.PodSandboxMetadata:
        return self.config.metadata


@dataclass
class Container:
    id: str
    sandbox_id: str
    name: str
    config: api.ContainerConfig
    image_id: str = ""
    image_ref: str = ""
    image_name: str = ""
    runtime_handler: str = ""
    state: ContainerState = ContainerState.CREATING
    created_at: int = field(default_factory=now_ns)
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    pid: int = 0
    log_path: str = ""
    #: current resources (LinuxContainerResources, serialized)
    resources: bytes = b""
    #: uid/gid/groups the process starts with, stop signal, mount list ...
    extra: dict = field(default_factory=dict)

    @property
    def metadata(self) -> api.ContainerMetadata:
        return self.config.metadata


def sandbox_name(meta: api.PodSandboxMetadata) -> str:
    """The CRI's uniqueness key for sandboxes: name, namespace, uid, attempt."""
    return f"{meta.name}_{meta.namespace}_{meta.uid}_{meta.attempt}"


def container_name(sandbox_id: str, meta: api.ContainerMetadata) -> str:
    """(name, attempt) is unique within a sandbox."""
    return f"{sandbox_id}/{meta.name}_{meta.attempt}"
