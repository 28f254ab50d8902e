"""Pseudo-terminals for containers, and passing fds over unix sockets."""

from __future__ import annotations

import fcntl
import os
import struct

TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430
TIOCGPTPEER = 0x5441
_SCM_RIGHTS = 1
_SOL_SOCKET = 1


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, int, str]:
    """A new pty from the devpts behind ``ptmx``: (master, slave, slave path)."""
    master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
    try:  # by fd, not by path: nothing can swap /dev/pts/N under us
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        os.set_inheritable(slave, False)
    except OSError:
        slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    return master, slave, f"/dev/pts/{number}"


def set_window_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def make_controlling_terminal(fd: int) -> None:
    fcntl.ioctl(fd, TIOCSCTTY, 0)


def connect_unix(path: str) -> int:
    """A connected AF_UNIX stream socket fd (close-on-exec)."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock.detach()


def send_fd(sock_fd: int, fd: int, name: str) -> None:
    """Send ``fd`` with SCM_RIGHTS; the payload is its name, as runc sends it."""
    import _socket

    sock = _socket.socket(fileno=sock_fd)
    try:
        sock.sendmsg([name.encode()], [(_SOL_SOCKET, _SCM_RIGHTS, struct.pack("i", fd))])
    finally:
        sock.detach()


def receive_fd(sock_fd: int) -> tuple[int, str]:
    """The fd and name ``send_fd`` sent (for tests and hull's own console sockets)."""
    import _socket

    sock = _socket.socket(fileno=sock_fd)
    try:
        data, ancillary, _, _ = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    finally:
        sock.detach()
    for level, kind, payload in ancillary:
        if level == _SOL_SOCKET and kind == _SCM_RIGHTS:
            return struct.unpack("i", payload[:4])[0], data.decode(errors="replace")
    raise OSError(0, "no file descriptor received")
