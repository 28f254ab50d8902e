"""Port forwarding into a pod: a TCP connection to localhost:<port> in its network namespace.

The socket is created on a dedicated, throw-away thread that setns'd into
the pod's pinned netns (setns is per thread; never a pool thread); a socket
keeps the namespace it was made in, so the event loop then uses it like any
other. Each forwarded connection is a pair of channels: data both ways,
and an error channel that carries a message if forwarding fails.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from hull.cri.model import SandboxState
from hull.errors import FailedPrecondition, NotFound, Unavailable
from hull.sys.netns import NetNS

log = logging.getLogger("hull.cri.streaming")

CONNECT_TIMEOUT = 10.0
CHUNK = 256 << 10    # fewer, larger frames: the per-frame Python cost dominates


def pod_netns(daemon, sandbox_id: str) -> str:
    """The pod's pinned netns path; "" for a host-network pod."""
    sb = daemon.store.sandbox(sandbox_id)
    if sb is None:
        raise NotFound(f"cannot port-forward to pod sandbox {sandbox_id}: not found")
    if sb.state is not SandboxState.READY:
        raise FailedPrecondition(f"cannot port-forward to pod sandbox {sandbox_id}: "
                                 f"it is not ready")
    if sb.host_network:
        return ""
    path = sb.namespaces.get("net", "")
    if not path:
        raise FailedPrecondition(f"cannot port-forward to pod sandbox {sandbox_id}: "
                                 f"it has no network namespace")
    return path


def connect_localhost(port: int) -> socket.socket:
    """localhost:port, IPv4 first then IPv6 (what dialing "localhost" tries)."""
    errors = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as Go's dialer
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect((host, port))
        except OSError as e:
            sock.close()
            errors.append(f"{host}: {e.strerror or e}")
            continue
        sock.setblocking(False)
        return sock
    raise Unavailable(f"cannot connect to localhost:{port}: {'; '.join(errors)}")


def connect_in_netns(netns_path: str, port: int) -> socket.socket:
    if not netns_path:
        return connect_localhost(port)
    with NetNS(netns_path) as ns:
        return ns.run(connect_localhost, port)


async def forward(daemon, sandbox_id: str, port: int, data, error, *,
                  half_close: bool = True) -> None:
    """Connect and copy both ways; failures go to ``error``.

    With ``half_close`` (SPDY: each side can FIN its stream) forwarding ends when
    both directions ended; without it (WebSocket: a channel cannot end on its
    own) it ends when the pod closes its side.
    """
    loop = asyncio.get_running_loop()
    try:
        path = pod_netns(daemon, sandbox_id)
        sock = await loop.run_in_executor(None, connect_in_netns, path, port)
    except Exception as e:  # noqa: BLE001 - every failure is reported to the client
        await _report(error, f"error forwarding port {port} to pod {sandbox_id}: {e}")
        return
    reader, writer = await asyncio.open_connection(sock=sock, limit=CHUNK)
    try:
        upstream = asyncio.ensure_future(_client_to_pod(data, writer))
        downstream = asyncio.ensure_future(_pod_to_client(reader, data, error))
        try:
            if half_close:
                await asyncio.gather(upstream, downstream)
            else:
                await downstream
        except (ConnectionError, OSError) as e:
            log.debug("port-forward %s:%d ends: %s", sandbox_id, port, e)
        finally:
            upstream.cancel()
            downstream.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)
    finally:
        writer.close()


async def _client_to_pod(data, writer: asyncio.StreamWriter) -> None:
    while True:
        chunk = await data.read()
        if not chunk:
            break
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def _pod_to_client(reader: asyncio.StreamReader, data, error) -> None:
    while True:
        chunk = await reader.read(CHUNK)
        if not chunk:
            break
        await data.write(chunk)
    await data.close()
    await error.close()    # no error: clients wait for this stream to end


async def _report(error, message: str) -> None:
    log.info("%s", message)
    try:
        await error.write(message.encode())
        await error.close()
    except (ConnectionError, OSError):
        pass
