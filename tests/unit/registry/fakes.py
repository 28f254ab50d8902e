"""A scripted transport and responses for the client's unit tests."""

from __future__ import annotations

import http.client
import io
import json
from typing import Callable

from hull.registry.config import TLSFiles


class FakeResponse:
    def __init__(self, status: int = 200, body: bytes = b"", headers: dict | None = None,
                 fail_after: int | None = None, error: BaseException | None = None):
        self.status, self.reason = status, http.client.responses.get(status, "")
        self.headers = {k: v for k, v in (headers or {}).items()}
        self._body = io.BytesIO(body)
        self._fail_after = fail_after
        self._error = error or http.client.IncompleteRead(b"")
        self.closed = False
        self.url = ""

    def _check(self, wanted: int) -> int:
        if self._fail_after is not None:
            left = self._fail_after - self._body.tell()
            if left <= 0:
                raise self._error
            return min(wanted, left)
        return wanted

    def read(self, amount: int = -1) -> bytes:
        if amount is None or amount < 0:
            amount = len(self._body.getbuffer())
        return self._body.read(self._check(amount))

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        data = self._body.read(self._check(len(view)))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.closed = True


def json_response(status: int, doc, headers: dict | None = None) -> FakeResponse:
    return FakeResponse(status, json.dumps(doc).encode(),
                        {"Content-Type": "application/json", **(headers or {})})


def registry_error(status: int, code: str, message: str) -> FakeResponse:
    return json_response(status, {"errors": [{"code": code, "message": message}]})


class FakeTransport:
    """Answers each request with ``handler(method, url, headers, body)``; records every call."""

    def __init__(self, handler: Callable):
        self.handler = handler
        self.calls: list[tuple[str, str, dict]] = []
        self.tls: list[tuple[TLSFiles, bool]] = []

    def request(self, method, url, headers, body=None, *, tls=TLSFiles(), insecure=False):
        self.calls.append((method, url, dict(headers)))
        self.tls.append((tls, insecure))
        result = self.handler(method, url, dict(headers), body)
        if isinstance(result, BaseException):
            raise result
        result.url = url
        return result


class Script:
    """A handler that answers from a queue per URL substring, then a default."""

    def __init__(self, default: Callable | None = None):
        self.queues: list[tuple[str, list]] = []
        self.default = default

    def on(self, fragment: str, *answers) -> "Script":
        self.queues.append((fragment, list(answers)))
        return self

    def __call__(self, method, url, headers, body):
        for fragment, answers in self.queues:
            if fragment in url and answers:
                answer = answers.pop(0)
                return answer(method, url, headers, body) if callable(answer) else answer
        if self.default:
            return self.default(method, url, headers, body)
        raise AssertionError(f"unexpected request {method} {url}")
