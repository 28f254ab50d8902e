"""critest pkg/validate/streaming.go and streaming_linux.go: [k8s.io] Streaming.

critest streams with client-go over SPDY by default (WebSocket with --websocket-exec/attach/
portforward): each spec runs both ways, SPDY through hull.testing.streaming (the streaming
kit) and WebSocket through this area's own channel client (wsclient.py, written apart from
the server's code). critest's fixed local ports 12001-12003 become free loopback ports.
"""

import asyncio
import threading
import time

import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from hull.testing import streaming as kit
from hull.testing.registry import free_port
from tests.integration.cri_validation import images, wsclient
from tests.integration.cri_validation.conftest import ECHO_HELLO_CMD, SHELL_CMD
from tests.integration.cri_validation.test_networking import (check_main_page,
                                                              pod_with_port_mappings)

pytestmark = pytest.mark.root


def exec_url(f, cid, **fields):
    url = f.rc.Exec(api.ExecRequest(container_id=cid, cmd=ECHO_HELLO_CMD, **fields),
                    timeout=30).url
    assert url.startswith("http"), f"exec URL should have a host: {url!r}"
    return url


TRANSPORTS = [pytest.param("spdy", id="spdy"), pytest.param("ws", id="websocket")]


def spdy_exec(url, stdin=False, tty=False):
    async def run():
        session = await kit.RemoteCommand.open(url, "spdy", stdin=stdin, stdout=True,
                                               stderr=not tty, tty=tty)
        return await session.finish(60)
    return asyncio.run(run())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_runtime_should_support_exec_with_tty_false_and_stdin_false(f, transport):
    """Streaming: runtime should support exec with tty=false and stdin=false [Conformance]."""
    pod = f.pod_for_container()
    cid = f.default_container(*pod, "container-for-exec-test")
    f.start(cid)
    url = exec_url(f, cid, stdout=True, stderr=True)
    if transport == "spdy":
        result = spdy_exec(url)
    else:
        result = wsclient.stream_remote_command(url)
    assert result.stdout == b"hello", result.stdout
    assert result.stderr == b""


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_runtime_should_support_exec_with_tty_true_and_stdin_true(f, transport):
    """Streaming: runtime should support exec with tty=true and stdin=true [Conformance]."""
    pod = f.pod_for_container()
    cid = f.default_container(*pod, "container-for-exec-test")
    f.start(cid)
    url = exec_url(f, cid, stdout=True, tty=True, stdin=True)
    if transport == "spdy":
        result = spdy_exec(url, stdin=True, tty=True)
        assert b"hello" in result.stdout, result.stdout
        assert result.stderr == b""
        return

    def idle_stdin():  # critest closes stdin after 20 s or when the test ends
        time.sleep(20)
        return
        yield
    result = wsclient.stream_remote_command(url, stdin_chunks=idle_stdin())
    assert b"hello" in result.stdout, result.stdout
    assert result.stderr == b""


def spdy_attach(url):
    async def run():
        session = await kit.RemoteCommand.open(url, "spdy", stdin=True, stdout=True,
                                               stderr=True, tty=False)
        await asyncio.sleep(1)
        header = session.outcome.stdout
        await asyncio.sleep(1)
        assert session.outcome.stdout == header, "the container should print nothing unasked"
        await session.write((" ".join(ECHO_HELLO_CMD) + "\n").encode())
        await session.read_until(header + b"hello", 60)
        await asyncio.sleep(3)  # Consistently
        assert session.outcome.stdout[len(header):] == b"hello", session.outcome.stdout
        await session.close_stdin()
        outcome = await session.finish(60)
        assert outcome.stderr == b"", outcome.stderr
    asyncio.run(run())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_runtime_should_support_attach(f, transport):
    """Streaming: runtime should support attach [Conformance]."""
    pod = f.pod_for_container()
    config = cri.container_config("container-for-attach-test", images.BUSYBOX, SHELL_CMD,
                                  stdin=True, stdin_once=True, tty=False)
    cid = f.create_container(*pod, config)
    f.start(cid)
    url = f.rc.Attach(api.AttachRequest(container_id=cid, stdin=True, stdout=True, stderr=True,
                                        tty=False), timeout=30).url
    assert url.startswith("http"), url
    if transport == "spdy":
        spdy_attach(url)
        return
    close_stdin = threading.Event()
    seen = {}

    def stdin():
        time.sleep(1)
        seen["header"] = seen.get("out", b"")  # the container prints nothing without input
        yield (" ".join(ECHO_HELLO_CMD) + "\n").encode()
        close_stdin.wait(90)

    def on_output(result):
        seen["out"] = result.stdout
    box = {}
    thread = threading.Thread(target=lambda: box.update(
        r=wsclient.stream_remote_command(url, stdin_chunks=stdin(), on_output=on_output)),
        daemon=True)
    thread.start()
    try:
        cri.wait_for(lambda: seen.get("out", b"")[len(seen.get("header", b"")):] == b"hello",
                     60, 0.2, "attach stdout 'hello'")
        time.sleep(3)  # Consistently: nothing else arrives
        assert seen["out"][len(seen["header"]):] == b"hello", seen["out"]
    finally:
        close_stdin.set()
        thread.join(60)
    assert "r" in box, "attach stream did not end after stdin closed"
    assert box["r"].stderr == b"", box["r"].stderr


class SpdyForwarder:
    """kubectl port-forward over SPDY: one connection, a stream pair per local connection."""

    def __init__(self, url, local_port, port):
        self.errors: list[str] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url, local_port, port, ready),
                                       daemon=True)
        self.thread.start()
        assert ready.wait(30), "SPDY port forwarder did not start"

    def _run(self, url, local_port, port, ready):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.forward = await kit.PortForward.open_spdy(url)

            async def serve(reader, writer):
                try:
                    data, _ = await self.forward.connect(port)

                    async def up():
                        while chunk := await reader.read(65536):
                            await data.write(chunk)
                        await data.close()
                    task = asyncio.ensure_future(up())
                    while chunk := await data.read():
                        writer.write(chunk)
                        await writer.drain()
                    task.cancel()
                except Exception as e:  # reported by the test
                    self.errors.append(repr(e))
                finally:
                    writer.close()
            self.server = await asyncio.start_server(serve, "127.0.0.1", local_port)
            ready.set()
        self.loop.run_until_complete(main())
        self.loop.run_forever()

    def close(self):
        async def stop():
            self.server.close()
            await self.forward.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def check_port_forward(f, pod_id, container_port, transport="ws"):
    def new_url():
        url = f.rc.PortForward(api.PortForwardRequest(pod_sandbox_id=pod_id), timeout=30).url
        assert url.startswith("http"), url
        return url
    local = free_port()
    if transport == "spdy":
        forwarder = SpdyForwarder(new_url(), local, container_port)
    else:
        new_url()
        forwarder = wsclient.PortForwarder(new_url, local, container_port)
    try:
        check_main_page(f, "", local, 0)
    except AssertionError as e:
        raise AssertionError(f"{e}; port-forward errors: {forwarder.errors}") from None
    finally:
        forwarder.close()
    assert not forwarder.errors, forwarder.errors


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_runtime_should_support_portforward(f, transport):
    """Streaming: runtime should support portforward [Conformance]."""
    pod = pod_with_port_mappings(f, [api.PortMapping(container_port=80)])
    cid = f.create_container(*pod, cri.container_config("container-for-portforward-test",
                                                        images.NGINX))
    f.start(cid)
    check_main_page(f, pod[0], 0, 80)
    check_port_forward(f, pod[0], 80, transport)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_runtime_should_support_portforward_in_host_network(f, transport):
    """Streaming: runtime should support portforward in host network."""
    port = free_port()
    pod = pod_with_port_mappings(f, [api.PortMapping(container_port=port)], host_net=True)
    # critest's hostnet-nginx listens on 12003; our busybox httpd listens on a free port
    config = cri.container_config("container-for-host-net-portforward-test", images.HTTPD,
                                  ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"])
    cid = f.create_container(*pod, config)
    f.start(cid)
    check_main_page(f, "", port, 0)
    check_port_forward(f, pod[0], port, transport)
