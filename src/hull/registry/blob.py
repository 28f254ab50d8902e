"""A blob download that survives dropped connections.

:class:`BlobStream` is file-like (``read``, ``readinto``, iteration of
chunks). When the connection breaks mid-transfer it reconnects and asks for
the rest with ``Range: bytes=<delivered>-``; a server that ignores Range is
handled by skipping what was already delivered. It never checks the digest:
the content store does, on the bytes it commits. It delivers at most
``size`` bytes past ``offset``.
"""

from __future__ import annotations

import http.client
import logging
import re

from hull.errors import (DeadlineExceeded, HullError, Internal, InvalidArgument, NotFound,
                         PermissionDenied, Unavailable)
from hull.registry.auth import repository_scope
from hull.registry.config import Endpoint
from hull.registry.media import Descriptor
from hull.registry.reference import Reference
from hull.registry.retry import is_transient
from hull.registry.transport import READ_BLOCK

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_SKIP_BLOCK = 1 << 20
#: resumes of one download in total, progress or not: a link this bad is not worth more
MAX_RESUMES = 20


class BlobStream:
    def __init__(self, client, ref: Reference, endpoints: list[Endpoint], descriptor: Descriptor,
                 offset: int = 0):
        if offset < 0 or offset > descriptor.size:
            raise Internal(f"cannot fetch blob {descriptor.digest}: offset {offset} outside "
                           f"0..{descriptor.size}")
        self._client = client
        self.ref = ref
        self.descriptor = descriptor
        self.size = descriptor.size
        self.offset = offset
        self.position = offset          # absolute offset of the next byte delivered
        self.endpoint: Endpoint | None = None
        self.reconnects = 0
        self._failures = 0           # failed tries in a row without a byte delivered
        self._endpoints = endpoints
        self._what = f"pull image {ref}: blob {descriptor.digest}"
        self._resp = None
        self._resp = self._open_any(offset)

    # --- opening ---------------------------------------------------------

    def _open_any(self, position: int):
        """Open at ``position`` on the first endpoint that has the blob."""
        order = self._endpoints
        if self.endpoint is not None:  # keep to the endpoint that already served bytes
            served = (self.endpoint.host, self.endpoint.repository)
            order = [self.endpoint] + [e for e in order if (e.host, e.repository) != served]
        last: HullError | None = None
        for endpoint in order:
            try:
                resp = self._open(endpoint, position)
            except (NotFound, Unavailable, PermissionDenied, DeadlineExceeded) as e:
                log.debug("blob %s not available from %s: %s", self.descriptor.digest, endpoint, e)
                last = e
                continue
            self.endpoint = endpoint
            return resp
        assert last is not None
        raise last

    def _open(self, endpoint: Endpoint, position: int):
        client = self._client
        headers = {"Accept": "*/*"}
        if position:
            headers["Range"] = f"bytes={position}-"
        if position >= self.size:
            return None
        url = client.url(endpoint, f"blobs/{self.descriptor.digest}")
        resp = client.send(endpoint, "GET", url, what=self._what,
                           scopes=[repository_scope(endpoint.repository)], headers=headers)
        if resp.status == 206:
            start = _range_start(resp.headers.get("Content-Range", ""))
            if start != position:
                resp.close()
                raise Unavailable(f"cannot {self._what}: {endpoint.host} answered range "
                                  f"{resp.headers.get('Content-Range')!r} for offset {position}")
            return resp
        if resp.status == 200:
            if position:
                self._skip(resp, position)
            return resp
        if resp.status == 416 and position:
            resp.close()  # the registry holds fewer bytes than the descriptor promises
            raise InvalidArgument(f"cannot {self._what}: blob is truncated: {endpoint.host} has "
                                  f"no bytes past {position}, the descriptor says {self.size}")
        raise client.status_error(resp, self._what, endpoint)

    def _skip(self, resp, count: int) -> None:
        """The server ignored Range: read and drop what was already delivered."""
        log.debug("%s ignored Range; skipping %d bytes", self.endpoint, count)
        while count:
            chunk = resp.read(min(count, _SKIP_BLOCK))
            if not chunk:
                raise http.client.IncompleteRead(b"", count)
            count -= len(chunk)

    # --- reading ---------------------------------------------------------

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        remaining = self.size - self.position
        if remaining <= 0 or not len(view):
            return 0
        view = view[:remaining]
        while True:
            try:
                if self._resp is None:
                    raise http.client.IncompleteRead(b"", remaining)
                n = self._resp.readinto(view)
                if n == 0:
                    raise http.client.IncompleteRead(b"", remaining)
                self.position += n
                self._failures = 0
                return n
            except HullError:
                raise
            except Exception as e:
                if not (is_transient(e) or isinstance(e, http.client.IncompleteRead)):
                    raise self._client._connection_error(e, self._host(), self._what) from e
                self._failures += 1
                if self._failures >= self._client.retry.attempts or self.reconnects >= MAX_RESUMES:
                    raise Unavailable(f"cannot {self._what}: connection lost at byte "
                                      f"{self.position} of {self.size} after {self.reconnects} "
                                      f"resumes: {e or type(e).__name__}") from e
                self._reconnect(self._failures, e)

    def _host(self) -> str:
        return self.endpoint.host if self.endpoint else "registry"

    def _reconnect(self, failures: int, error: BaseException) -> None:
        log.info("blob %s interrupted at %d/%d (%s); resuming", self.descriptor.digest,
                 self.position, self.size, error or type(error).__name__)
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        self._client.retry.wait(failures)
        self.reconnects += 1
        try:
            self._resp = self._open_any(self.position)
        except (Unavailable, DeadlineExceeded) as e:
            log.debug("resume of %s failed: %s", self.descriptor.digest, e)
            self._resp = None  # the next loop turn counts this as another failure

    def read(self, amount: int = -1) -> bytes:
        if amount is None or amount < 0:
            amount = self.size - self.position
        out = bytearray(max(0, min(amount, self.size - self.position)))
        filled = 0
        while filled < len(out):
            n = self.readinto(memoryview(out)[filled:])
            if n == 0:
                break
            filled += n
        del out[filled:]
        return bytes(out)

    def __iter__(self):
        buffer = bytearray(READ_BLOCK)
        view = memoryview(buffer)
        while True:
            n = self.readinto(view)
            if not n:
                return
            yield bytes(view[:n])

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readable(self) -> bool:
        return True


def _range_start(value: str) -> int | None:
    match = _CONTENT_RANGE.match(value.strip())
    return int(match.group(1)) if match else None
