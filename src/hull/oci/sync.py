"""Messages between hull-runc and the processes it forks: one JSON object
per line over a pair of close-on-exec pipes. EOF means the other side is
gone (or, after execve, that exec succeeded)."""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull.oci import jsonio


class Channel:
    """One direction each way; both ends of both pipes until ``side`` is chosen."""

    def __init__(self, floor: int = 3) -> None:
        """``floor``: lowest fd number to use (above the fds a caller preserves)."""
        from hull.sys.fds import move_above

        down_r, down_w = posix.pipe()   # parent -> child
        up_r, up_w = posix.pipe()       # child -> parent
        self.down_r, self.down_w, self.up_r, self.up_w = (
            move_above(fd, floor) for fd in (down_r, down_w, up_r, up_w))
        self._buffer = b""
        self.read_fd = self.write_fd = -1

    def parent_side(self) -> Channel:
        posix.close(self.down_r)
        posix.close(self.up_w)
        self.read_fd, self.write_fd = self.up_r, self.down_w
        return self

    def child_side(self) -> Channel:
        posix.close(self.down_w)
        posix.close(self.up_r)
        self.read_fd, self.write_fd = self.down_r, self.up_w
        return self

    def send(self, kind: str, **fields) -> None:
        fields["type"] = kind
        data = (jsonio.dumps(fields) + "\n").encode()
        while data:
            data = data[posix.write(self.write_fd, data):]

    def receive(self) -> dict | None:
        """The next message, or None at EOF."""
        while b"\n" not in self._buffer:
            chunk = posix.read(self.read_fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return jsonio.loads(line)

    def report(self, error: BaseException) -> None:
        """Send ``error`` to the parent as one "error" message (the child's last word)."""
        from hull import errors

        if isinstance(error, SystemExit):
            return
        if isinstance(error, OSError):  # unexpected: say where, for the bug report
            tb, names = error.__traceback__, []
            while tb is not None:
                names.append(tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
            where = "/".join(names[-3:])
            error = errors.from_oserror(error, f"container process setup failed ({where})")
        category = type(error).__name__ if isinstance(error, errors.HullError) else "Internal"
        message = str(error) or type(error).__name__
        try:
            self.send("error", category=category, message=message)
        except OSError:  # after "ready" the channel is closed: stderr is all we have
            try:
                posix.write(2, f"hull-runc: {message}\n".encode())
            except OSError:
                pass

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            if fd >= 0:
                try:
                    posix.close(fd)
                except OSError:
                    pass
        self.read_fd = self.write_fd = -1
