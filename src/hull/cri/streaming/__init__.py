"""hulld's streaming server: Exec, Attach and PortForward over SPDY/3.1 and WebSocket.

``StreamingServer(daemon, address)`` issues single-use URLs from the RPCs
(``get_exec_url``, ``get_attach_url``, ``get_port_forward_url``) and serves
them on its own thread (``start``/``stop``).
"""

from __future__ import annotations

from hull.cri.streaming.server import StreamingServer

__all__ = ["StreamingServer"]
