"""runc's foreground terminal: ``run`` or ``exec -t`` without
``--console-socket`` and without ``--detach`` (a person at a shell).

hull-runc listens on a console socket of its own, receives the
container's pty master, puts our terminal in raw mode and copies our stdin
to the master and the master to our stdout until the process exits.
Only this interactive path imports select, socket and termios.
"""

from __future__ import annotations

import os


class ConsoleProxy:
    def __init__(self) -> None:
        import socket

        self.path = f"/tmp/hull-runc-console-{os.getpid()}-{os.urandom(4).hex()}.sock"
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(1)
        self.master = -1

    def receive(self) -> int:
        """The pty master the container sent (it is queued by the time create returns)."""
        from hull.sys.console import receive_fd

        connection, _ = self._server.accept()
        try:
            self.master, _ = receive_fd(connection.fileno())
        finally:
            connection.close()
            self.close_listener()
        _copy_window_size(0, self.master)
        return self.master

    def close_listener(self) -> None:
        self._server.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def copy_until_exit(self, pid: int) -> None:
        """Relay both ways until ``pid`` exits, then drain what it wrote last."""
        import select

        pidfd = os.pidfd_open(pid)
        saved = _raw_mode(0)
        try:
            sources = [self.master, pidfd] + ([0] if saved is not None or
                                              not os.isatty(0) else [])
            while True:
                ready, _, _ = select.select(sources, [], [])
                if self.master in ready and not _pump(self.master, 1):
                    break
                if 0 in ready and not _pump(0, self.master):
                    sources.remove(0)
                if pidfd in ready:
                    while _pump(self.master, 1, block=False):
                        pass
                    break
        finally:
            if saved is not None:
                import termios

                termios.tcsetattr(0, termios.TCSADRAIN, saved)
            os.close(pidfd)
            os.close(self.master)


def _pump(source: int, target: int, block: bool = True) -> bool:
    """Copy one chunk; False at EOF (or, non-blocking, when nothing is left)."""
    if not block:
        import select

        if not select.select([source], [], [], 0)[0]:
            return False
    try:
        data = os.read(source, 65536)
    except OSError:   # EIO: the pty's other side is closed
        return False
    if not data:
        return False
    while data:
        data = data[os.write(target, data):]
    return True


def _raw_mode(fd: int):
    """Put a terminal in raw mode; its previous settings, or None if not a tty."""
    if not os.isatty(fd):
        return None
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    return saved


def _copy_window_size(source: int, target: int) -> None:
    if not os.isatty(source):
        return
    import fcntl
    import termios

    size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
    fcntl.ioctl(target, termios.TIOCSWINSZ, size)
