"""Reading CRI container logs (kubelet's format), as `kubectl logs` does.

Each line is ``<RFC3339Nano time> <stdout|stderr> <P|F> <text>``: ``P``
marks a partial line that the next entry continues, ``F`` a full one.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO, Iterator


def parse_line(raw: bytes) -> tuple[str, str, bool, bytes] | None:
    """(time, stream, full, text) of one log line, None when malformed."""
    parts = raw.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    when, stream, tag = parts[0], parts[1], parts[2]
    text = parts[3] if len(parts) > 3 else b""
    if stream not in (b"stdout", b"stderr") or tag not in (b"P", b"F"):
        return None
    return when.decode(), stream.decode(), tag == b"F", text


def entries(f: BinaryIO, timestamps: bool = False) -> Iterator[bytes]:
    """Complete output lines (partials joined) from a CRI log file object."""
    pending: dict[str, bytes] = {}
    for raw in f:
        parsed = parse_line(raw)
        if parsed is None:
            continue
        when, stream, full, text = parsed
        pending[stream] = pending.get(stream, b"") + text
        if full:
            line = pending.pop(stream)
            yield (when.encode() + b" " + line if timestamps else line) + b"\n"


def read(path: str, out: BinaryIO, tail: int = -1, timestamps: bool = False) -> None:
    with open(path, "rb") as f:
        lines = list(entries(f, timestamps))
    for line in lines[-tail:] if tail >= 0 else lines:
        out.write(line)
    out.flush()


def follow(path: str, out: BinaryIO, still_running, timestamps: bool = False,
           tail: int = -1) -> None:
    """Print the log, then keep printing what is appended until ``still_running()`` is False."""
    with open(path, "rb") as f:
        lines = list(entries(f, timestamps))
        for line in lines[-tail:] if tail >= 0 else lines:
            out.write(line)
        out.flush()
        buffer = b""
        while True:
            chunk = f.read()
            if chunk:
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                import io
                for line in entries(io.BytesIO(b"\n".join(complete) + b"\n"), timestamps):
                    out.write(line)
                out.flush()
                continue
            if not still_running():
                return
            if not os.path.exists(path):  # rotated or removed
                return
            time.sleep(0.2)
