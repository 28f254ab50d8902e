"""The one interface the CRI server reaches containers through.

A handler runs OCI bundles: ``oci_conmon.ConmonRuntime`` drives any
runc-compatible binary (hull-runc, runc, crun) under conmon. Every method
blocks; the server calls them from worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class CreateRequest:
    container_id: str
    name: str
    bundle: str
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False


@dataclass
class Exit:
    exit_code: int
    finished_at: int          # ns since the epoch
    oom_killed: bool = False


@dataclass
class Features:
    recursive_read_only_mounts: bool = False
    user_namespaces: bool = False
    extra: dict = field(default_factory=dict)


class RuntimeHandler(Protocol):
    name: str

    def create(self, request: CreateRequest) -> int:
        """Create the container (not started); return its host pid."""

    def start(self, container_id: str) -> None: ...

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        """Signal the container; a container already gone is not an error."""

    def delete(self, container_id: str) -> None:
        """Forget the container (forcibly); idempotent."""

    def exit_status(self, container_id: str) -> Exit | None:
        """How the container ended, from the monitor's record; None while running."""

    def is_alive(self, container_id: str) -> bool: ...

    def exec_sync(self, container_id: str, process: dict, timeout: float | None) -> ExecResult: ...

    def update(self, container_id: str, resources: dict) -> None: ...

    def reopen_log(self, container_id: str) -> None: ...

    def features(self) -> Features: ...
