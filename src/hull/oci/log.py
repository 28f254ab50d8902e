"""hull-runc's log: runc's two formats, to a file or stderr.

conmon and containerd read the runtime's log file to report why it failed
(``--log-format=json``: one object per line with ``level``, ``msg``,
``time``). ``logging`` costs milliseconds to import; this is a few lines.
"""

from __future__ import annotations

import posix   # not os: see hull.oci.state.exists
import sys
import time

from hull.oci import jsonio

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class Log:
    def __init__(self, path: str | None = None, format: str = "text", debug: bool = False):
        if format not in ("text", "json"):
            raise ValueError(f"unknown log format {format!r} (want text or json)")
        self.path = path if path not in ("", "/dev/stderr") else None
        self.format = format
        self.threshold = _LEVELS["debug" if debug else "info"]

    def debug(self, message: str) -> None:
        self.write("debug", message)

    def info(self, message: str) -> None:
        self.write("info", message)

    def warning(self, message: str) -> None:
        self.write("warning", message)

    def error(self, message: str) -> None:
        self.write("error", message)

    def write(self, level: str, message: str) -> None:
        if _LEVELS[level] < self.threshold:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.format == "json":
            line = jsonio.dumps({"level": level, "msg": message, "time": stamp})
        else:
            quoted = jsonio.dumps(message)
            line = f'time="{stamp}" level={level} msg={quoted}'
        self.emit(line + "\n")

    def emit(self, line: str) -> None:
        if self.path is None:
            sys.stderr.write(line)
            sys.stderr.flush()
            return
        try:
            fd = posix.open(self.path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC, 0o644)
        except OSError:
            sys.stderr.write(line)
            return
        try:
            posix.write(fd, line.encode())
        finally:
            posix.close(fd)


#: until the CLI configures one: errors to stderr in runc's text format
NULL = Log()
