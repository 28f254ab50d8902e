"""The remotecommand protocols (exec and attach) over SPDY and WebSocket.

Whatever the transport, an exec or attach sees ``Streams``: stdin, stdout,
stderr, resize and error channels with ``read``/``write``/``close``. The
error channel reports the end: a metav1.Status JSON in v4 and later
(``NonZeroExitCode`` with an ``ExitCode`` cause), plain text before v4.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

V1 = "channel.k8s.io"
V2 = "v2.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
WS_BASE64 = "base64.channel.k8s.io"
WS_V4_BASE64 = "v4.base64.channel.k8s.io"

#: SPDY: server preference does not matter, the client's order decides
SPDY_PROTOCOLS = [V4, V3, V2, V1]
#: WebSocket subprotocols ("" = a client that named none: channel.k8s.io)
WS_PROTOCOLS = [V5, V4, WS_V4_BASE64, V1, WS_BASE64]

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
STREAM_TIMEOUT = 30.0        # kubelet's streamCreationTimeout


@dataclass
class Options:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


@dataclass
class Streams:
    error: object
    stdin: object | None = None
    stdout: object | None = None
    stderr: object | None = None
    resize: object | None = None
    status_json: bool = True


def negotiate(client: list[str], server: list[str]) -> str | None:
    """The first protocol in the client's list that the server speaks."""
    for protocol in client:
        if protocol in server:
            return protocol
    return None


def success_status() -> bytes:
    return json.dumps({"metadata": {}, "status": "Success"}).encode()


def failure_status(message: str, exit_code: int | None = None) -> bytes:
    status = {"metadata": {}, "status": "Failure", "message": message}
    if exit_code is not None:
        status["reason"] = "NonZeroExitCode"
        status["details"] = {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}
    else:
        status["reason"] = "InternalError"
        status["code"] = 500
    return json.dumps(status).encode()


async def report(streams: Streams, cmd: list[str] | None, exit_code: int | None,
                 error: str | None = None) -> None:
    """Tell the client how the command ended, the way kubelet does."""
    if error is not None:
        body = failure_status(error) if streams.status_json else error.encode()
    elif exit_code:
        message = (f"command terminated with non-zero exit code: command {cmd!r} "
                   f"exited with {exit_code}" if cmd else f"exited with {exit_code}")
        body = (failure_status(message, exit_code) if streams.status_json
                else message.encode())
    else:
        body = success_status() if streams.status_json else b""
    if body:
        await streams.error.write(body)


async def resizes(channel):
    """Terminal sizes (width, height) sent as a stream of JSON objects."""
    decoder = json.JSONDecoder()
    buffer = ""
    while True:
        chunk = await channel.read()
        if not chunk:
            return
        buffer += chunk.decode(errors="replace")
        while buffer.strip():
            try:
                size, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                break    # an object split across chunks: wait for the rest
            buffer = buffer.lstrip()[end:]
            if isinstance(size, dict):
                width, height = int(size.get("Width", 0)), int(size.get("Height", 0))
                if width > 0 and height > 0:
                    yield width, height


# SPDY: the client opens one stream per channel, named by its streamType header

SPDY_TYPES = {"stdin": "stdin", "stdout": "stdout", "stderr": "stderr", "error": "error",
              "resize": "resize"}


def expected_spdy_streams(protocol: str, options: Options) -> set[str]:
    wanted = {"error"}
    if options.stdin:
        wanted.add("stdin")
    if options.stdout:
        wanted.add("stdout")
    if options.stderr and not (options.tty and protocol in (V2, V3, V4)):
        wanted.add("stderr")
    if options.tty and protocol in (V3, V4):
        wanted.add("resize")
    return wanted


async def collect_spdy_streams(incoming: asyncio.Queue, protocol: str,
                               options: Options, timeout: float = STREAM_TIMEOUT) -> Streams:
    """Wait until the client has opened every stream the request needs."""
    wanted = expected_spdy_streams(protocol, options)
    found: dict[str, object] = {}

    async def gather() -> None:
        while not wanted <= found.keys():
            stream = await incoming.get()
            if stream is None:
                raise ConnectionResetError("connection closed while streams were being opened")
            kind = stream.header("streamType")
            if kind not in SPDY_TYPES or kind in found:
                stream.reset()
                continue
            found[kind] = stream

    try:
        await asyncio.wait_for(gather(), timeout)
    except asyncio.TimeoutError as e:
        missing = sorted(wanted - found.keys())
        raise TimeoutError(f"timed out waiting for client streams {missing}") from e
    return Streams(error=found["error"], stdin=found.get("stdin"), stdout=found.get("stdout"),
                   stderr=found.get("stderr"), resize=found.get("resize"),
                   status_json=protocol == V4)


def websocket_streams(mux, protocol: str, options: Options) -> Streams:
    ch = mux.channels
    return Streams(error=ch[ERROR], stdin=ch[STDIN] if options.stdin else None,
                   stdout=ch[STDOUT] if options.stdout else None,
                   stderr=ch[STDERR] if options.stderr and not options.tty else None,
                   resize=ch[RESIZE] if options.tty else None,
                   status_json=protocol in (V4, V5, WS_V4_BASE64))
