"""Connection pooling of the real transport, against a keep-alive server on loopback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hull.registry.transport import HTTPTransport

BODY = b"x" * 100_000


class Server:
    def __init__(self):
        self.connections = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with server.lock:
                    server.connections += 1

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


def test_drained_responses_reuse_one_connection(server):
    transport = HTTPTransport(environ={})
    for _ in range(5):
        resp = transport.request("GET", server.url, {})
        assert resp.read() == BODY
        resp.close()
    resp = transport.request("HEAD", server.url, {})
    assert resp.status == 200
    transport.close()
    assert server.connections == 1


def test_abandoned_response_drops_its_connection(server):
    transport = HTTPTransport(environ={})
    resp = transport.request("GET", server.url, {})
    assert resp.read(10) == b"x" * 10
    resp.close()  # mid-body: this connection cannot carry another request
    assert transport.request("GET", server.url, {}).read() == BODY
    transport.close()
    assert server.connections == 2


def test_open_responses_get_their_own_connections(server):
    transport = HTTPTransport(environ={})
    first = transport.request("GET", server.url, {})
    second = transport.request("GET", server.url, {})
    assert first.read() == BODY and second.read() == BODY
    third = transport.request("GET", server.url, {})  # both are idle again: one is reused
    assert third.read() == BODY
    transport.close()
    assert server.connections == 2


def test_threads_share_the_pool(server):
    transport = HTTPTransport(environ={})
    errors = []

    def work():
        try:
            for _ in range(10):
                with transport.request("GET", server.url, {}) as resp:
                    assert resp.read() == BODY
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transport.close()
    assert errors == [] and server.connections <= 4
