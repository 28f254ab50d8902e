"""A minimal client of the CRI streaming server over WebSocket (channel.k8s.io framing).

critest drives Exec/Attach/PortForward URLs with client-go (SPDY by default,
WebSocket with --websocket-*); this is the WebSocket side, written from
RFC 6455 and the kubelet's channel protocol: every binary message starts
with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize;
for port forwarding 2*i data and 2*i+1 error of the i-th port, each first
carrying the port as two little-endian bytes).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
from urllib.parse import urlsplit

REMOTECOMMAND = ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"]
PORTFORWARD = ["v4.channel.k8s.io", "portforward.k8s.io"]


class WebSocket:
    def __init__(self, url: str, protocols: list[str], timeout: float = 60):
        parts = urlsplit(url)
        assert parts.scheme in ("http", "ws"), f"only plain http is supported here: {url}"
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = (f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {', '.join(protocols)}\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError(f"streaming server closed during the handshake: {head!r}")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"handshake refused: {head.decode(errors='replace')}")
        self.protocol = ""
        for line in head.decode(errors="replace").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-protocol":
                self.protocol = value.strip()
        self._send_lock = threading.Lock()
        self.closed = False

    def send(self, payload: bytes, opcode: int = 2) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self._send_lock:
            self.sock.sendall(header + mask + masked)

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def recv(self) -> tuple[int, bytes] | None:
        """(opcode, payload) of the next whole message; None once the peer closed."""
        message, first_opcode = b"", None
        while True:
            try:
                b0, b1 = self._exact(2)
            except (EOFError, OSError):
                self.closed = True
                return None
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else b""
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 8:
                self.closed = True
                return None
            if opcode == 9:
                self.send(payload, 10)
                continue
            if opcode == 10:
                continue
            if first_opcode is None:
                first_opcode = opcode
            message += payload
            if b0 & 0x80:
                return first_opcode, message

    def close(self) -> None:
        try:
            self.send(struct.pack("!H", 1000), 8)
        except OSError:
            pass
        self.sock.close()


class RemoteCommandResult:
    def __init__(self):
        self.stdout = b""
        self.stderr = b""
        self.status: dict | None = None


def stream_remote_command(url: str, stdin_chunks=None, on_output=None,
                          timeout: float = 60) -> RemoteCommandResult:
    """Run an Exec or Attach URL to the end; ``stdin_chunks`` is an iterable sent on channel 0."""
    ws = WebSocket(url, REMOTECOMMAND, timeout=timeout)
    result = RemoteCommandResult()

    def feed():
        try:
            for chunk in stdin_chunks:
                ws.send(b"\x00" + chunk)
            if ws.protocol == "v5.channel.k8s.io":
                ws.send(b"\xff\x00")  # v5: close stdin
        except OSError:
            pass  # the stream ended first
    if stdin_chunks is not None:
        threading.Thread(target=feed, daemon=True).start()
    try:
        while True:
            message = ws.recv()
            if message is None:
                break
            _, data = message
            if not data:
                continue
            channel, body = data[0], data[1:]
            if channel == 1:
                result.stdout += body
            elif channel == 2:
                result.stderr += body
            elif channel == 3 and body:
                result.status = json.loads(body)
            if on_output is not None and channel in (1, 2):
                on_output(result)
    finally:
        ws.close()
    return result


class PortForwarder:
    """Listens on 127.0.0.1:``local_port``; each connection gets its own WebSocket to ``port``.

    Streaming URLs are single-use, so ``new_url()`` is asked for one per connection.
    """

    def __init__(self, new_url, local_port: int, port: int):
        self.new_url, self.port = new_url, port
        self.listener = socket.create_server(("127.0.0.1", local_port))
        self.errors: list[str] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(conn,), daemon=True).start()

    def _pump(self, conn: socket.socket) -> None:
        try:
            url = self.new_url()
            sep = "&" if "?" in url else "?"
            ws = WebSocket(f"{url}{sep}port={self.port}", PORTFORWARD)
        except Exception as e:
            self.errors.append(str(e))
            conn.close()
            return

        def upstream():
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    ws.send(b"\x00" + data)
            except OSError:
                pass
        threading.Thread(target=upstream, daemon=True).start()
        seen_port = {0: False, 1: False}
        try:
            while True:
                message = ws.recv()
                if message is None:
                    break
                _, data = message
                if not data:
                    continue
                channel, body = data[0], data[1:]
                if not seen_port.get(channel, True):
                    seen_port[channel] = True
                    body = body[2:]  # the port number, little-endian
                if channel == 0 and body:
                    conn.sendall(body)
                elif channel == 1 and body:
                    self.errors.append(body.decode(errors="replace"))
        except OSError:
            pass
        finally:
            ws.close()
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.listener.close()
