"""Just enough HTTP/1.1 to route an upgrade request: request head in, status line out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

MAX_HEAD = 64 << 10

REASONS = {101: "Switching Protocols", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


class BadRequest(Exception):
    pass


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    def tokens(self, name: str) -> list[str]:
        """Comma-separated header values across repeated headers, in order."""
        out = []
        for value in self.headers.get(name.lower(), []):
            out += [part.strip() for part in value.split(",") if part.strip()]
        return out

    def has_token(self, name: str, token: str) -> bool:
        return token.lower() in (t.lower() for t in self.tokens(name))


async def read_request(reader: asyncio.StreamReader) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as e:
        raise BadRequest("request head too large") from e
    except asyncio.IncompleteReadError as e:
        raise BadRequest("connection closed before the request head ended") from e
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0]!r}")
    url = urlsplit(parts[1])
    request = Request(method=parts[0], path=url.path, query=parse_qs(url.query))
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"bad header line {line!r}")
        request.headers.setdefault(name.strip().lower(), []).append(value.strip())
    return request


def response(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    all_headers = dict(headers or {})
    if status != 101:
        all_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        all_headers["Content-Length"] = str(len(body))
        all_headers.setdefault("Connection", "close")
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
