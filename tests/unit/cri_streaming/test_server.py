"""The streaming server in-process with a recording fake daemon: routes, tokens, refusals."""

from __future__ import annotations

import asyncio
import json

import pytest

from hull._generated import api_pb2 as api
from hull.cri.streaming import StreamingServer
from hull.cri.streaming.server import parse_address
from hull.errors import Internal, InvalidArgument
from hull.cri.model import SandboxState
from hull.testing.streaming import (HTTPError, PortForward, RemoteCommand, read_all,
                                    read_until)


class FakeStore:
    """No containers and no sandboxes: every lookup misses."""

    def __init__(self):
        self.asked: list[str] = []

    def container(self, container_id):
        self.asked.append(container_id)
        return None

    def sandbox(self, sandbox_id):
        self.asked.append(sandbox_id)
        return None


class FakeDaemon:
    def __init__(self):
        self.store = FakeStore()


@pytest.fixture
def server():
    srv = StreamingServer(FakeDaemon(), "127.0.0.1:0")
    srv.start()
    yield srv
    srv.stop()


def test_address_parsing():
    assert parse_address("127.0.0.1:10010") == ("127.0.0.1", 10010)
    assert parse_address("[::1]:0") == ("::1", 0)
    assert parse_address("") == ("127.0.0.1", 0)
    with pytest.raises(InvalidArgument):
        parse_address("127.0.0.1:http")


def test_urls_need_a_running_server():
    srv = StreamingServer(FakeDaemon(), "127.0.0.1:0")
    with pytest.raises(Internal):
        srv.get_exec_url(api.ExecRequest(container_id="c", cmd=["true"], stdout=True))


@pytest.mark.parametrize("transport", ["spdy", "ws"])
def test_exec_in_a_missing_container_fails_on_the_error_stream(server, transport):
    url = server.get_exec_url(api.ExecRequest(container_id="gone", cmd=["true"], stdout=True))
    assert url.startswith(server.base_url + "/exec/")

    async def scenario():
        session = await RemoteCommand.open(url, transport, stderr=False)
        return await session.finish()

    outcome = asyncio.run(scenario())
    status = json.loads(outcome.error)
    assert status["status"] == "Failure"
    assert "gone" in status["message"] and "not found" in status["message"]
    assert server.daemon.store.asked == ["gone"]


@pytest.mark.parametrize("transport", ["spdy", "ws"])
def test_expired_token_is_404(server, transport):
    now = [0.0]
    server.tokens.clock = lambda: now[0]
    url = server.get_attach_url(api.AttachRequest(container_id="c", stdout=True))
    now[0] += 61
    with pytest.raises(HTTPError) as caught:
        asyncio.run(RemoteCommand.open(url, transport, stderr=False))
    assert caught.value.status == 404
    assert server.daemon.store.asked == []


def test_plain_get_without_upgrade_is_400(server):
    url = server.get_exec_url(api.ExecRequest(container_id="c", cmd=["true"], stdout=True))

    async def plain():
        from hull.testing.streaming import upgrade
        await upgrade(url, {}, method="GET")

    with pytest.raises(HTTPError) as caught:
        asyncio.run(plain())
    assert caught.value.status == 400


def test_port_forward_to_a_missing_pod_reports_on_the_error_stream(server):
    url = server.get_port_forward_url(api.PortForwardRequest(pod_sandbox_id="nopod"))

    async def scenario():
        forward = await PortForward.open_spdy(url)
        data, error = await forward.connect(80)
        message = await read_all(error)
        await forward.close()
        return message

    message = asyncio.run(scenario())
    assert b"error forwarding port 80 to pod nopod" in message
    assert b"not found" in message



class HostPod:
    """A ready host-network sandbox: forwarding dials the host's loopback (no netns)."""
    state = SandboxState.READY
    host_network = True
    namespaces: dict = {}


class HostPodDaemon(FakeDaemon):
    def __init__(self):
        super().__init__()
        self.store.sandbox = lambda sandbox_id: HostPod() if sandbox_id == "hostpod" else None


async def echo_server():
    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def open_tunnel(url: str, transport: str, port: int):
    if transport == "spdy":
        forward = await PortForward.open_spdy(url)
        data, _ = await forward.connect(port)
        return forward, data
    forward, [(data, _)] = await PortForward.open_ws(url, [port])
    return forward, data


@pytest.mark.parametrize("transport", ["spdy", "ws"])
def test_host_network_pod_forwarding_and_idle_close(transport):
    srv = StreamingServer(HostPodDaemon(), "127.0.0.1:0", idle_timeout=0.3)
    srv.start()
    try:
        async def scenario():
            echo, port = await echo_server()
            url = srv.get_port_forward_url(api.PortForwardRequest(pod_sandbox_id="hostpod"))
            forward, data = await open_tunnel(url, transport, port)
            await data.write(b"ping")
            answer = await read_until(data, b"PING")
            # then silence: the server closes the idle connection, the tunnel ends
            rest = await read_all(data, timeout=20)
            echo.close()
            await forward.close()
            return answer, rest

        answer, rest = asyncio.run(scenario())
        assert answer == b"PING" and rest == b""
    finally:
        srv.stop()


@pytest.mark.parametrize("protocol", ["portforward.k8s.io", "v4.base64.channel.k8s.io",
                                      "base64.channel.k8s.io"])
def test_websocket_forwarding_subprotocols(server, protocol):
    server.daemon.store.sandbox = HostPodDaemon().store.sandbox

    async def scenario():
        echo, port = await echo_server()
        url = server.get_port_forward_url(api.PortForwardRequest(pod_sandbox_id="hostpod",
                                                                 port=[port]))
        forward, [(data, _)] = await PortForward.open_ws(url, [port], protocols=(protocol,))
        await data.write(b"abc\x00\xff")
        answer = await read_until(data, b"ABC")
        echo.close()
        await forward.close()
        return answer

    assert asyncio.run(scenario()) == b"ABC\x00\xff"
