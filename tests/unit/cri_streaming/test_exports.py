"""The package's public surface is what hulld's server.py uses."""

from __future__ import annotations

import hull.cri.streaming as streaming


def test_public_names():
    assert streaming.__all__ == ["StreamingServer"]
    server = streaming.StreamingServer(object(), "127.0.0.1:0")
    for method in ("get_exec_url", "get_attach_url", "get_port_forward_url", "start", "stop"):
        assert callable(getattr(server, method))
