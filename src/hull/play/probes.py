"""Liveness, readiness and startup probes, with kubelet's timing and thresholds.

A ``Prober`` holds one probe's counters; ``due`` says when it next runs
(initialDelaySeconds after the container started, then every periodSeconds);
``record`` turns results into a state after successThreshold successes or
failureThreshold failures in a row. Handlers: exec (ExecSync in the
container; exit 0 succeeds), httpGet (from the host to the pod IP; a status
in 200..399 succeeds), tcpSocket (a connection succeeds).
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass

import grpc

from hull._generated import api_pb2 as api

SUCCESS, FAILURE, UNKNOWN = "success", "failure", "unknown"


@dataclass
class Result:
    ok: bool
    detail: str


class Prober:
    def __init__(self, kind: str, probe: dict, container: dict):
        self.kind = kind
        self.probe = probe
        self.container = container
        self.successes = 0
        self.failures = 0
        self.result = UNKNOWN
        self.last_run = 0.0

    def period(self) -> float:
        return float(self.probe.get("periodSeconds", 10))

    def due(self, started_at: float, now: float) -> bool:
        if now < started_at + self.probe.get("initialDelaySeconds", 0):
            return False
        return self.last_run == 0 or now >= self.last_run + self.period()

    def next_due(self, started_at: float) -> float:
        if self.last_run == 0:
            return started_at + self.probe.get("initialDelaySeconds", 0)
        return self.last_run + self.period()

    def record(self, ok: bool) -> str | None:
        """Count one result; returns the new state when it changes."""
        self.last_run = time.time()
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= self.probe.get("successThreshold", 1) and self.result != SUCCESS:
                self.result = SUCCESS
                return SUCCESS
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= self.probe.get("failureThreshold", 3) and self.result != FAILURE:
                self.result = FAILURE
                return FAILURE
        return None

    def reset(self) -> None:
        self.successes = self.failures = 0
        self.result = UNKNOWN
        self.last_run = 0.0


def run(probe: dict, container: dict, container_id: str, pod_ip: str, runtime) -> Result:
    timeout = float(probe.get("timeoutSeconds", 1))
    if probe.get("exec") is not None:
        return _exec(runtime, container_id, probe["exec"]["command"], timeout)
    if probe.get("httpGet") is not None:
        return _http(probe["httpGet"], container, pod_ip, timeout)
    return _tcp(probe["tcpSocket"], container, pod_ip, timeout)


def resolve_port(port, container: dict) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p["containerPort"]
    raise ValueError(f"port {port!r} is not a named port of container {container['name']}")


def _exec(runtime, container_id: str, command: list[str], timeout: float) -> Result:
    try:
        resp = runtime.ExecSync(api.ExecSyncRequest(container_id=container_id, cmd=command,
                                                    timeout=max(1, int(timeout))),
                                timeout=timeout + 10)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Result(False, f"command timed out after {timeout:g}s")
        return Result(False, e.details() or e.code().name)
    if resp.exit_code == 0:
        return Result(True, "")
    output = (resp.stdout + resp.stderr).decode(errors="replace").strip()
    return Result(False, f"command {command!r} exited with {resp.exit_code}"
                  + (f": {output[:200]}" if output else ""))


def _http(get: dict, container: dict, pod_ip: str, timeout: float) -> Result:
    try:
        port = resolve_port(get["port"], container)
    except ValueError as e:
        return Result(False, str(e))
    host = get.get("host") or pod_ip or "127.0.0.1"
    scheme = (get.get("scheme") or "HTTP").upper()
    path = get.get("path") or "/"
    if scheme == "HTTPS":
        import ssl
        conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"User-Agent": "kube-probe/1.31", "Accept": "*/*"}
    for h in get.get("httpHeaders") or []:
        headers[h["name"]] = h["value"]
    try:
        conn.request("GET", path, headers=headers)
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as e:
        return Result(False, f"Get \"{scheme.lower()}://{host}:{port}{path}\": {e}")
    finally:
        conn.close()
    if 200 <= status < 400:
        return Result(True, "")
    return Result(False, f"HTTP probe failed with statuscode: {status}")


def _tcp(tcp: dict, container: dict, pod_ip: str, timeout: float) -> Result:
    try:
        port = resolve_port(tcp["port"], container)
    except ValueError as e:
        return Result(False, str(e))
    host = tcp.get("host") or pod_ip or "127.0.0.1"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return Result(True, "")
    except OSError as e:
        return Result(False, f"dial tcp {host}:{port}: {e.strerror or e}")
