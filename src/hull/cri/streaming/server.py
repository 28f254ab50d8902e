"""The streaming server: one HTTP listener, single-use URLs, SPDY/3.1 and WebSocket upgrades.

It runs its own event loop on its own thread, so a busy exec never delays
hulld's gRPC loop and the RPC handlers only touch the (locked) token cache.
Routes: ``/exec/<token>``, ``/attach/<token>``, ``/portforward/<token>``
(GET or POST, as kubelet registers them). A token is redeemed once, within
a minute; otherwise 404.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from hull.cri.streaming import http
from hull.cri.streaming.idle import IDLE_TIMEOUT
from hull.cri.streaming.over_spdy import serve_spdy
from hull.cri.streaming.over_websocket import serve_websocket
from hull.cri.streaming.tokens import TOKEN_TTL, TokenCache
from hull.errors import Internal, InvalidArgument

log = logging.getLogger("hull.cri.streaming")

KINDS = ("exec", "attach", "portforward")
START_TIMEOUT = 10.0
WORKERS = 32
WRITE_BUFFER = 1 << 20


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = (address or "127.0.0.1:0").rpartition(":")
    if not sep:
        host, port = port, "0"
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, int(port or 0)
    except ValueError as e:
        raise InvalidArgument(f"cannot use stream address {address!r}: bad port") from e


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"[{host}]" if ":" in host else host


class StreamingServer:
    def __init__(self, runtime, address: str, *, token_ttl: float = TOKEN_TTL,
                 idle_timeout: float = IDLE_TIMEOUT):
        self.daemon = runtime          # hull.cri.daemon.Daemon: store and runtimes
        self.address = address
        self.idle_timeout = idle_timeout
        self.tokens = TokenCache(ttl=token_ttl)
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

    # URLs (called from RPC worker threads)

    def _url(self, kind: str, request) -> str:
        if not self.base_url:
            raise Internal(f"cannot serve {kind}: the streaming server is not running")
        copy = type(request)()
        copy.CopyFrom(request)
        return f"{self.base_url}/{kind}/{self.tokens.insert((kind, copy))}"

    def get_exec_url(self, req) -> str:
        return self._url("exec", req)

    def get_attach_url(self, req) -> str:
        return self._url("attach", req)

    def get_port_forward_url(self, req) -> str:
        return self._url("portforward", req)

    # lifecycle

    def start(self) -> None:
        host, port = parse_address(self.address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, port), family=family, backlog=128)
        except OSError as e:
            raise InvalidArgument(f"cannot listen for streams on {self.address}: "
                                  f"{e.strerror}") from e
        bound = sock.getsockname()[1]
        self.base_url = f"http://{_url_host(host)}:{bound}"
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(sock, ready),
                                        name="hull-streaming", daemon=True)
        self._thread.start()
        ready.wait(START_TIMEOUT)
        log.info("streaming server on %s", self.base_url)

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        # short blocking steps only (netns dials, console fds); sized for many sessions
        self._loop.set_default_executor(ThreadPoolExecutor(max_workers=WORKERS,
                                                           thread_name_prefix="hull-stream"))

        async def listen() -> None:
            self._server = await asyncio.start_server(self._accept, sock=sock,
                                                      limit=http.MAX_HEAD)

        self._loop.run_until_complete(listen())
        ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(10)
        self._loop = self._thread = None
        self.base_url = ""

    # connections

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        _no_delay(writer.get_extra_info("socket"))
        # let a few frames queue before drain() waits, so reading the next chunk from the
        # command or the pod overlaps with sending the last one
        writer.transport.set_write_buffer_limits(high=WRITE_BUFFER)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - one bad connection must not stop the server
            log.exception("streaming connection failed")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await http.read_request(reader)
        except http.BadRequest as e:
            writer.write(http.response(400, body=f"{e}\n".encode()))
            return
        kind, _, token = request.path.strip("/").partition("/")
        if kind not in KINDS or not token or "/" in token:
            writer.write(http.response(404, body=b"404 page not found\n"))
            return
        if request.method not in ("GET", "POST"):
            writer.write(http.response(405, {"Allow": "GET, POST"},
                                       body=b"method not allowed\n"))
            return
        entry = self.tokens.consume(token)
        if entry is None or entry[0] != kind:
            writer.write(http.response(404, body=b"404 page not found\n"))
            return
        log.debug("streaming %s for %s", kind, _target(entry[1]))
        if request.has_token("Upgrade", "websocket"):
            await serve_websocket(self.daemon, kind, entry[1], request, reader, writer,
                                  self.idle_timeout)
        elif request.has_token("Upgrade", "SPDY/3.1"):
            await serve_spdy(self.daemon, kind, entry[1], request, reader, writer,
                             self.idle_timeout)
        else:
            writer.write(http.response(400, body=b"unable to upgrade: missing upgrade "
                                                b"headers in request\n"))
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass


def _no_delay(sock) -> None:
    """Small frames go out at once. asyncio only does this for sockets whose proto is
    IPPROTO_TCP, and a listener from create_server (so every accepted one) has 0:
    without it a FIN frame after a DATA frame waits 40 ms for a delayed ACK."""
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _target(request) -> str:
    return getattr(request, "container_id", "") or getattr(request, "pod_sandbox_id", "")
