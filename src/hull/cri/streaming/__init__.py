"""hulld's streaming server: Exec, Attach and PortForward over SPDY/3.1 and WebSocket.

``StreamingServer(daemon, address)`` issues single-use URLs from the RPCs
(``get_exec_url``, ``get_attach_url``, ``get_port_forward_url``) and serves
them on its own thread (``start``/``stop``).

The export is lazy: clients (``hull exec``, the test kit) import only the
protocol modules (``spdy``, ``websocket``, ``wschannels``, ``remotecommand``)
and must not pay for loading the server.
"""

from __future__ import annotations

__all__ = ["StreamingServer"]


def __getattr__(name: str):
    if name == "StreamingServer":
        from hull.cri.streaming.server import StreamingServer
        return StreamingServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
