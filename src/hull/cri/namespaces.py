"""Pinned pod namespaces: net, ipc and uts live as bind-mounted nsfs files.

A pod's namespaces must exist before (and without) any process in them, so
containers can join them by path and CNI can configure the network. Each is
made by ``unshare`` on a dedicated, short-lived thread (namespaces are per
thread, and the thread dies afterwards) and pinned by bind-mounting
``/proc/thread-self/ns/<kind>`` onto a file under the sandbox directory.
"""

from __future__ import annotations

import os
import threading

from hull.errors import from_oserror
from hull.sys import libc

FLAGS = {"net": libc.CLONE_NEWNET, "ipc": libc.CLONE_NEWIPC, "uts": libc.CLONE_NEWUTS}


def pin(directory: str, kinds: list[str], hostname: str = "") -> dict[str, str]:
    """Create namespaces ``kinds`` pinned under ``directory``; return kind -> path.

    The UTS namespace gets ``hostname``. On failure nothing stays pinned.
    """
    if not kinds:
        return {}
    os.makedirs(directory, exist_ok=True)
    paths = {kind: os.path.join(directory, kind) for kind in kinds}
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            flags = 0
            for kind in kinds:
                flags |= FLAGS[kind]
            libc.unshare(flags)
            if "uts" in kinds and hostname:
                libc.sethostname(hostname)
            for kind, path in paths.items():
                with open(path, "w"):
                    pass
                libc.mount(f"/proc/thread-self/ns/{kind}", path, None, libc.MS_BIND)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            outcome.append(e)

    thread = threading.Thread(target=work, name="hull-pin-ns")
    thread.start()
    thread.join()
    if outcome:
        unpin(paths)
        err = outcome[0]
        if isinstance(err, OSError):
            raise from_oserror(err, f"cannot pin namespaces in {directory}") from err
        raise err
    return paths


def unpin(paths: dict[str, str]) -> None:
    """Release pinned namespaces; missing ones are fine."""
    for path in paths.values():
        try:
            libc.umount(path, libc.MNT_DETACH)
        except OSError:
            pass
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def mount_shm(path: str, size: int = 64 << 20) -> None:
    """The pod's /dev/shm: one tmpfs shared by its containers (same IPC namespace)."""
    os.makedirs(path, exist_ok=True)
    try:
        libc.mount("shm", path, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC,
                   f"mode=1777,size={size}")
    except OSError as e:
        raise from_oserror(e, f"cannot mount pod shm at {path}") from e


def unmount(path: str) -> None:
    """Detach a mount if there is one; idempotent."""
    try:
        libc.umount(path, libc.MNT_DETACH)
    except OSError:
        pass
