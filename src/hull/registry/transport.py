"""HTTP(S) transport: pooled keep-alive connections over http.client and ssl.

Connections are taken from a pool for one request and returned when the
response has been read to the end, so any number of threads (parallel layer
downloads) and any number of open responses per thread work without locks
held during I/O. The client talks to a :class:`Transport`; tests pass a fake.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from typing import Callable, Iterable, Mapping, Protocol
from urllib.parse import urlsplit

from hull.registry.config import TLSFiles
from hull.registry.proxy import Proxy, proxy_for

READ_BLOCK = 1 << 20
MAX_IDLE_PER_HOST = 16


class Response(Protocol):
    status: int
    reason: str
    headers: Mapping[str, str]
    url: str

    def read(self, amount: int = -1) -> bytes: ...
    def readinto(self, buffer) -> int: ...
    def close(self) -> None: ...


class Transport(Protocol):
    def request(self, method: str, url: str, headers: Mapping[str, str], body=None, *,
                tls: TLSFiles = TLSFiles(), insecure: bool = False) -> Response: ...


class PooledResponse:
    """An http.client response that hands its connection back when drained."""

    def __init__(self, pool: "HTTPTransport", key, conn, raw: http.client.HTTPResponse, url: str):
        self._pool, self._key, self._conn, self._raw = pool, key, conn, raw
        self.status, self.reason, self.url = raw.status, raw.reason, url
        self.headers = raw.headers

    def read(self, amount: int = -1) -> bytes:
        data = self._raw.read() if amount is None or amount < 0 else self._raw.read(amount)
        self._maybe_release()
        return data

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        self._maybe_release()
        return n

    def _maybe_release(self) -> None:
        if self._conn is not None and self._raw.isclosed():
            conn, self._conn = self._conn, None
            self._pool._release(self._key, conn, reusable=not self._raw.will_close)

    def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        if self._raw.isclosed():
            self._pool._release(self._key, conn, reusable=not self._raw.will_close)
        else:  # unread body: the connection's stream is mid-message, drop it
            self._raw.close()
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HTTPTransport:
    """The real transport. One instance may be shared by every thread."""

    def __init__(self, timeout: float = 30.0, environ: Mapping[str, str] | None = None,
                 proxy: "Callable[[str, str], Proxy | None] | None" = None):
        self.timeout = timeout
        # where proxies come from: the environment (default), or a function in tests
        self._proxy_for = proxy or (lambda scheme, netloc: proxy_for(scheme, netloc, environ))
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._contexts: dict[tuple, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def ssl_context(self, tls: TLSFiles, insecure: bool) -> ssl.SSLContext:
        key = (tls, insecure)
        with self._lock:
            context = self._contexts.get(key)
        if context is not None:
            return context
        context = ssl.create_default_context()
        for ca in tls.ca_files:
            context.load_verify_locations(cafile=ca)
        for cert, keyfile in tls.client_certs:
            context.load_cert_chain(cert, keyfile)
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        with self._lock:
            return self._contexts.setdefault(key, context)

    def _connect(self, key) -> http.client.HTTPConnection:
        scheme, netloc, tls, insecure, proxy = key
        if scheme == "https":
            context = self.ssl_context(tls, insecure)
            if proxy is None:
                return http.client.HTTPSConnection(netloc, timeout=self.timeout,
                                                   blocksize=READ_BLOCK, context=context)
            conn = http.client.HTTPSConnection(proxy.host, timeout=self.timeout,
                                               blocksize=READ_BLOCK, context=context)
            target = urlsplit("//" + netloc)
            headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
            conn.set_tunnel(target.hostname, target.port or 443, headers=headers)  # CONNECT
            return conn
        return http.client.HTTPConnection(proxy.host if proxy else netloc, timeout=self.timeout,
                                          blocksize=READ_BLOCK)

    def _take(self, key) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return self._connect(key), False

    def _release(self, key, conn, reusable: bool) -> None:
        if not reusable:
            conn.close()
            return
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def request(self, method: str, url: str, headers: Mapping[str, str], body=None, *,
                tls: TLSFiles = TLSFiles(), insecure: bool = False) -> PooledResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme in {url}")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        proxy = self._proxy_for(parts.scheme, parts.netloc)
        key = (parts.scheme, parts.netloc, tls if parts.scheme == "https" else None,
               insecure if parts.scheme == "https" else False, proxy)
        if proxy is not None and parts.scheme == "http":
            target = url  # a plain-HTTP proxy takes the absolute URL
            if proxy.authorization:
                headers = {**headers, "Proxy-Authorization": proxy.authorization}
        conn, reused = self._take(key)
        try:
            return self._send(key, conn, method, url, target, headers, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused or not _replayable(body):
                raise
            # a keep-alive connection the server had already closed: one fresh try
            return self._send(key, self._connect(key), method, url, target, headers, body)

    def _send(self, key, conn, method, url, target, headers, body) -> PooledResponse:
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            raw = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        response = PooledResponse(self, key, conn, raw, url)
        if method == "HEAD" or raw.status in (204, 304) or raw.length == 0:
            response.read()
        return response

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _replayable(body) -> bool:
    return body is None or isinstance(body, (bytes, bytearray, memoryview, str))


CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError, socket.timeout, TimeoutError, http.client.HTTPException, ssl.SSLError,
    socket.gaierror, OSError)


def iter_chunks(response: Response, size: int = READ_BLOCK) -> Iterable[bytes]:
    while True:
        chunk = response.read(size)
        if not chunk:
            return
        yield chunk
