"""The package's public surface is what hulld's server.py uses."""

from __future__ import annotations

import hull.cri.streaming as streaming


def test_public_names():
    assert streaming.__all__ == ["StreamingServer"]
    server = streaming.StreamingServer(object(), "127.0.0.1:0")
    for method in ("get_exec_url", "get_attach_url", "get_port_forward_url", "start", "stop"):
        assert callable(getattr(server, method))


def test_client_side_does_not_load_the_server():
    """`hull exec` and the test kit use the protocol modules only; loading the
    server (sessions, the CRI model and store, api_pb2) cost 161 ms of imports."""
    import subprocess
    import sys

    code = ("import sys, hull.testing.streaming; "
            "print(sorted(m for m in sys.modules if m.startswith(('hull.cri.streaming.server', "
            "'hull.cri.model', 'hull.cri.store', 'hull._generated'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
