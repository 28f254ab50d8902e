"""A small CRI client kit, shaped like cri-tools' ``pkg/framework``.

``connect(socket)`` returns a ``CriClient`` holding the RuntimeService and
ImageService stubs of a CRI server on a unix socket (hulld, containerd,
CRI-O alike). The config builders make what critest's framework makes:
pod sandbox metadata with its uid/namespace prefixes and default labels,
container metadata with an attempt number, default and pause containers.
``parse_cri_log`` reads the kubelet log format the runtime writes at
``log_path`` (``<RFC3339Nano> <stream> <P|F> <text>``).
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from dataclasses import dataclass

import grpc

from hull._generated import api_pb2 as api
from hull._generated import api_pb2_grpc as api_grpc

DEFAULT_UID_PREFIX = "cri-test-uid"
DEFAULT_NAMESPACE_PREFIX = "cri-test-namespace"
DEFAULT_ATTEMPT = 2
DEFAULT_POD_LABELS: dict[str, str] = {}      # framework.DefaultLinuxPodLabels
DEFAULT_CONTAINER_COMMAND = ["top"]            # framework.DefaultLinuxContainerCommand
DEFAULT_PAUSE_COMMAND = ["sh", "-c", "top"]    # framework.DefaultLinuxPauseCommand


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass
class CriClient:
    channel: grpc.Channel
    runtime: api_grpc.RuntimeServiceStub
    images: api_grpc.ImageServiceStub

    def close(self) -> None:
        self.channel.close()


def connect(socket_path: str, *, wait: float = 0.0) -> CriClient:
    """Stubs for the CRI server at ``socket_path``; with ``wait``, poll Version until it answers."""
    channel = grpc.insecure_channel(f"unix://{socket_path}",
                                    options=[("grpc.max_receive_message_length", 16 << 20)])
    client = CriClient(channel, api_grpc.RuntimeServiceStub(channel),
                       api_grpc.ImageServiceStub(channel))
    deadline = time.monotonic() + wait
    while wait:
        try:
            client.runtime.Version(api.VersionRequest(version="0.1.0"), timeout=1)
            break
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return client


def pod_metadata(name: str, uid: str = "", namespace: str = "",
                 attempt: int = DEFAULT_ATTEMPT) -> api.PodSandboxMetadata:
    return api.PodSandboxMetadata(name=name, uid=uid or DEFAULT_UID_PREFIX + new_uuid(),
                                  namespace=namespace or DEFAULT_NAMESPACE_PREFIX + new_uuid(),
                                  attempt=attempt)


def container_metadata(name: str, attempt: int = DEFAULT_ATTEMPT) -> api.ContainerMetadata:
    return api.ContainerMetadata(name=name, attempt=attempt)


def pod_config(prefix: str = "create-PodSandbox-for-container-", *, log_directory: str = "",
               cgroup_parent: str = "", **fields) -> api.PodSandboxConfig:
    """critest's CreatePodSandboxForContainer config; extra fields go to PodSandboxConfig."""
    name = prefix + new_uuid()
    config = api.PodSandboxConfig(metadata=pod_metadata(name), log_directory=log_directory,
                                  labels=dict(DEFAULT_POD_LABELS), **fields)
    config.linux.cgroup_parent = cgroup_parent
    return config


def container_config(prefix: str, image: str, command: list[str] | None = None, *,
                     log_path: str = "", **fields) -> api.ContainerConfig:
    name = prefix + new_uuid()
    config = api.ContainerConfig(metadata=container_metadata(name),
                                 image=api.ImageSpec(image=image), log_path=log_path, **fields)
    if command:
        config.command.extend(command)
    config.linux.SetInParent()
    return config


@dataclass
class LogLine:
    timestamp: datetime.datetime
    stream: str
    tag: str
    text: str


def parse_cri_line(line: str) -> LogLine:
    """One kubelet-format line; raises ValueError on a malformed one, as critest fails on it."""
    parts = line.split(" ", 3)
    if len(parts) < 4:
        raise ValueError(f"not a CRI log line: {line!r}")
    stamp, stream, tag, text = parts
    if stream not in ("stdout", "stderr") or tag.split(":")[0] not in ("P", "F"):
        raise ValueError(f"not a CRI log line: {line!r}")
    return LogLine(_parse_rfc3339_nano(stamp), stream, tag, text + "\n")


def parse_cri_log(path: str | os.PathLike) -> list[LogLine]:
    with open(path, errors="replace") as f:
        return [parse_cri_line(line.rstrip("\n")) for line in f if line.strip()]


def _parse_rfc3339_nano(stamp: str) -> datetime.datetime:
    # Python's parser takes at most microseconds: trim the nanoseconds first
    head, _, zone = stamp.partition("Z") if stamp.endswith("Z") else (stamp, "", "")
    if "." in head:
        base, frac = head.split(".", 1)
        offset = ""
        for sign in "+-":
            if sign in frac:
                frac, offset = frac.split(sign, 1)[0], sign + frac.split(sign, 1)[1]
        head = f"{base}.{frac[:6]}{offset}"
    return datetime.datetime.fromisoformat(head + ("+00:00" if stamp.endswith("Z") else ""))


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` like gomega's Eventually; returns its last truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
