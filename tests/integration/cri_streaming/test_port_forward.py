"""Port-forward into a pod's network namespace over SPDY and WebSocket."""

from __future__ import annotations

import pytest

from hull._generated import api_pb2 as api
from hull.testing.streaming import PortForward, read_all, read_until
from tests.integration.cri_streaming.conftest import run

pytestmark = pytest.mark.root

PORT = 8080
BODY = b"hull port-forward ok"
# bound to the pod's loopback only: reachable through the tunnel, not from the host
HTTPD = ["sh", "-c", f"mkdir -p /tmp/www && echo '{BODY.decode()}' > /tmp/www/index.html && "
                     f"exec httpd -f -p 127.0.0.1:{PORT} -h /tmp/www"]
REQUEST = b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n"


@pytest.fixture
def web_pod(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, command=HTTPD)
    ready = pods.exec(cid, "sh", "-c", f"for i in $(seq 50); do wget -q -O /dev/null "
                                       f"http://127.0.0.1:{PORT}/ && "
                                       f"exit 0; sleep 0.1; done; exit 1")
    assert ready.exit_code == 0, ready.stderr
    return sid


def url_for(pods, sid: str, ports=()) -> str:
    return pods.rt.PortForward(api.PortForwardRequest(pod_sandbox_id=sid, port=list(ports)),
                               timeout=10).url


def test_fetch_through_spdy_tunnel_twice(pods, web_pod):
    async def scenario():
        forward = await PortForward.open_spdy(url_for(pods, web_pod))
        replies = []
        for _ in range(2):   # two forwarded connections on one SPDY session
            data, error = await forward.connect(PORT)
            await data.write(REQUEST)
            await data.close()
            replies.append((await read_all(data), await read_all(error)))
        await forward.close()
        return replies

    for reply, error in run(scenario()):
        assert reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n")[0]
        assert reply.endswith(BODY + b"\n")
        assert error == b""


def test_fetch_through_websocket_tunnel(pods, web_pod):
    async def scenario():
        forward, [(data, error)] = await PortForward.open_ws(url_for(pods, web_pod), [PORT])
        await data.write(REQUEST)
        reply = await read_until(data, BODY)
        await forward.close()
        return reply

    reply = run(scenario())
    assert b" 200 " in reply.split(b"\r\n")[0]
    assert BODY in reply


def test_closed_port_reports_on_the_error_stream(pods, web_pod, transport):
    async def scenario():
        if transport == "spdy":
            forward = await PortForward.open_spdy(url_for(pods, web_pod))
            data, error = await forward.connect(PORT + 1)
        else:
            forward, [(data, error)] = await PortForward.open_ws(url_for(pods, web_pod),
                                                                  [PORT + 1])
        message = await read_until(error, b"refused")
        await forward.close()
        return message

    message = run(scenario())
    assert f"error forwarding port {PORT + 1} to pod {web_pod}".encode() in message
    assert b"refused" in message


def test_host_cannot_reach_the_pod_loopback_service(web_pod):
    """The tunnel is the only way in: the same port on the host's loopback is not the pod's."""
    import socket

    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", PORT))
            s.sendall(REQUEST)
            answer = s.recv(4096)
        except OSError:
            answer = b""
    assert BODY not in answer
