"""An exec/attach client for a CRI streaming URL, as client-go's executors are.

``RemoteCommand.open(url, "ws")`` speaks WebSocket (client-go's WebSocket
executor, kubectl 1.30+), ``"spdy"`` SPDY/3.1 (its SPDY executor). Output
accumulates in ``outcome``; ``finish`` waits for the server's end-of-session
status and turns it into an exit code. All async: drive with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hull.cri.streaming.remotecommand import V4, V5
from hull.cri.streaming.websocket import WebSocket
from hull.cri.streaming.wschannels import CLOSE_CHANNEL, Mux

SPDY_EXEC_PROTOCOLS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                       "channel.k8s.io"]
WS_EXEC_PROTOCOLS = [V5, V4]
STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)


class HTTPError(Exception):
    def __init__(self, status: int, body: bytes, headers: dict[str, str]):
        super().__init__(f"HTTP {status}: {body.decode(errors='replace').strip()}")
        self.status = status
        self.body = body
        self.headers = headers


async def upgrade(url: str, headers: dict[str, str], method: str = "POST"):
    """Send the upgrade request; return (reader, writer, response headers) after a 101."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=4 << 20)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Content-Length: 0"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    answer = {}
    for line in head[1:]:
        if line:
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
    if status != 101:
        size = int(answer.get("content-length", "0"))
        body = await reader.readexactly(size) if size else b""
        writer.close()
        raise HTTPError(status, body, answer)
    return reader, writer, answer


def spdy_headers(protocols: list[str]) -> dict[str, str]:
    return {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": ", ".join(protocols)}


def ws_headers(protocols: list[str]) -> dict[str, str]:
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Key": key,
               "Sec-WebSocket-Version": "13"}
    if protocols:
        headers["Sec-WebSocket-Protocol"] = ", ".join(protocols)
    return headers


@dataclass
class Outcome:
    protocol: str
    stdout: bytes = b""
    stderr: bytes = b""
    error: bytes = b""

    @property
    def status(self) -> dict:
        return json.loads(self.error) if self.error else {}

    @property
    def exit_code(self) -> int:
        """0 for success; the ExitCode cause of a NonZeroExitCode status; else raise."""
        if not self.error:
            return 0
        status = self.status
        if status.get("status") == "Success":
            return 0
        if status.get("reason") == "NonZeroExitCode":
            for cause in status.get("details", {}).get("causes", []):
                if cause.get("reason") == "ExitCode":
                    return int(cause["message"])
        raise RuntimeError(f"stream failed: {self.error!r}")


@dataclass
class RemoteCommand:
    """One exec or attach session; output accumulates in ``outcome``."""

    transport: str
    protocol: str
    channels: dict = field(default_factory=dict)
    outcome: Outcome | None = None
    closer: object = None
    _tasks: list = field(default_factory=list)
    _output: asyncio.Event = field(default_factory=asyncio.Event)
    _buffers: dict = field(default_factory=dict)

    @classmethod
    async def open(cls, url: str, transport: str, *, stdin: bool = False, stdout: bool = True,
                   stderr: bool = True, tty: bool = False,
                   protocols: list[str] | None = None) -> "RemoteCommand":
        wanted = {"error": True, "stdin": stdin, "stdout": stdout,
                  "stderr": stderr and not tty, "resize": tty}
        if transport == "spdy":
            self = await cls._open_spdy(url, protocols or SPDY_EXEC_PROTOCOLS, wanted)
        else:
            self = await cls._open_ws(url, protocols if protocols is not None
                                      else WS_EXEC_PROTOCOLS, wanted)
        self.outcome = Outcome(self.protocol)
        for name in ("stdout", "stderr", "error"):
            if name in self.channels:
                self._tasks.append(asyncio.ensure_future(self._collect(name)))
        return self

    @classmethod
    async def _open_spdy(cls, url, protocols, wanted) -> "RemoteCommand":
        from hull.cri.streaming import spdy     # only here: `hull exec` speaks WebSocket

        reader, writer, answer = await upgrade(url, spdy_headers(protocols))
        conn = spdy.Connection(reader, writer, server=False)
        self = cls("spdy", answer.get("x-stream-protocol-version", ""), closer=conn)
        self._tasks.append(asyncio.ensure_future(conn.run()))
        for name in ("error", "stdin", "stdout", "stderr", "resize"):   # client-go's order
            if wanted[name]:
                self.channels[name] = await conn.open_stream({"streamType": name})
        return self

    @classmethod
    async def _open_ws(cls, url, protocols, wanted) -> "RemoteCommand":
        reader, writer, answer = await upgrade(url, ws_headers(protocols), method="GET")
        protocol = answer.get("sec-websocket-protocol", "channel.k8s.io")
        ws = WebSocket(reader, writer, client=True)
        mux = Mux(ws, 5, base64_framing="base64" in protocol)
        self = cls("ws", protocol, closer=ws)
        self._tasks.append(asyncio.ensure_future(mux.run()))
        index = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR,
                 "resize": RESIZE}
        self.channels = {name: mux.channels[index[name]] for name, on in wanted.items() if on}
        self._mux = mux
        return self

    async def _collect(self, name: str) -> None:
        channel = self.channels[name]
        while True:
            chunk = await channel.read()
            if not chunk:
                return
            self._buffers.setdefault(name, bytearray()).extend(chunk)   # linear, not O(n^2)
            setattr(self.outcome, name, self._buffers[name])
            self._output.set()

    async def wait_output(self) -> None:
        """Return once output arrives after this call (for copying it out as it comes)."""
        self._output.clear()
        await self._output.wait()

    async def write(self, data: bytes) -> None:
        await self.channels["stdin"].write(data)

    async def close_stdin(self) -> None:
        if self.transport == "spdy":
            await self.channels["stdin"].close()
        else:   # v5.channel.k8s.io CLOSE signal
            await self._mux.send(CLOSE_CHANNEL, bytes([STDIN]))

    async def resize(self, width: int, height: int) -> None:
        await self.channels["resize"].write(
            json.dumps({"Width": width, "Height": height}).encode())

    async def read_until(self, needle: bytes, timeout: float = 20.0) -> bytes:
        async def wait() -> bytes:
            while needle not in self.outcome.stdout:
                await self.wait_output()
            return self.outcome.stdout
        return await asyncio.wait_for(wait(), timeout)

    async def finish(self, timeout: float = 30.0) -> Outcome:
        """Wait until the server ended the session (error stream closed, connection gone)."""
        collectors = self._tasks[1:]
        await asyncio.wait_for(asyncio.gather(*collectors), timeout)
        await self.close()
        for name, buffer in self._buffers.items():
            setattr(self.outcome, name, bytes(buffer))
        return self.outcome

    async def close(self) -> None:
        await self.closer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
