"""Placeholder for the streaming server (exec/attach/port-forward over SPDY and
WebSocket); owned by the streaming engineer, who replaces this body."""

from __future__ import annotations

import secrets

from hull.errors import FailedPrecondition


class StreamingServer:
    def __init__(self, runtime, address: str):
        self.runtime = runtime
        self.address = address
        self.base_url = f"http://{address}"

    def _url(self, kind: str, req) -> str:
        raise FailedPrecondition(f"cannot serve {kind}: the streaming server is not built yet")

    def get_exec_url(self, req) -> str:
        return self._url("exec", req)

    def get_attach_url(self, req) -> str:
        return self._url("attach", req)

    def get_port_forward_url(self, req) -> str:
        return self._url("portforward", req)

    def start(self) -> None:
        self.token = secrets.token_urlsafe(8)

    def stop(self) -> None:
        pass
