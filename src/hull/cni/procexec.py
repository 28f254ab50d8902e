"""Run a helper program (an IPAM plugin, nft, iptables) from a plugin.

``subprocess`` costs a plugin start ~10 ms of imports; this is posix_spawn
plus pipes and poll, which is all a plugin needs.
"""

from __future__ import annotations

import os
import select


def run(argv: list[str], stdin: bytes = b"", env: dict | None = None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` to completion; returns (exit status, stdout, stderr)."""
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ if env is None else env, file_actions=[
            (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)])
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    chunks = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    pending_in = stdin
    if pending_in:
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
    open_fds = len(chunks) + (1 if pending_in else 0)
    try:
        while open_fds:
            for fd, _ in poller.poll():
                if fd == in_w:
                    try:
                        written = os.write(in_w, pending_in[:65536])
                    except BrokenPipeError:
                        written = len(pending_in)
                    pending_in = pending_in[written:]
                    if not pending_in:
                        poller.unregister(in_w)
                        os.close(in_w)
                        open_fds -= 1
                    continue
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    open_fds -= 1
    finally:
        for fd in (out_r, err_r):
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks[out_r]), b"".join(chunks[err_r])
