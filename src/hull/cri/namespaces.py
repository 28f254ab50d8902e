"""Pinned pod namespaces: net, ipc and uts live as bind-mounted nsfs files.

A pod's namespaces must exist before (and without) any process in them, so
containers can join them by path and CNI can configure the network. Each is
made by ``unshare`` on a dedicated, short-lived thread (namespaces are per
thread, and the thread dies afterwards) and pinned by bind-mounting
``/proc/thread-self/ns/<kind>`` onto a file under the sandbox directory.
"""

from __future__ import annotations

import os
import subprocess

from hull.errors import Internal, from_oserror
from hull.sys import libc
from hull.sys.netns import run_in_thread

FLAGS = {"net": libc.CLONE_NEWNET, "ipc": libc.CLONE_NEWIPC, "uts": libc.CLONE_NEWUTS}


def pin(directory: str, kinds: list[str], hostname: str = "") -> dict[str, str]:
    """Create namespaces ``kinds`` pinned under ``directory``; return kind -> path.

    The UTS namespace gets ``hostname``. On failure nothing stays pinned.
    """
    if not kinds:
        return {}
    os.makedirs(directory, exist_ok=True)
    paths = {kind: os.path.join(directory, kind) for kind in kinds}
    try:
        run_in_thread(_unshare_and_pin, paths, hostname)
    except BaseException as err:
        unpin(paths)
        if isinstance(err, OSError):
            raise from_oserror(err, f"cannot pin namespaces in {directory}") from err
        raise
    return paths


def _unshare_and_pin(paths: dict[str, str], hostname: str) -> None:
    flags = 0
    for kind in paths:
        flags |= FLAGS[kind]
    libc.unshare(flags)
    if "uts" in paths and hostname:
        libc.sethostname(hostname)
    for kind, path in paths.items():
        with open(path, "w"):
            pass
        libc.mount(f"/proc/thread-self/ns/{kind}", path, None, libc.MS_BIND)


def pin_in_userns(directory: str, kinds: list[str], hostname: str, uid_map: dict,
                  gid_map: dict) -> dict[str, str]:
    """Like ``pin``, but inside a new user namespace that owns the others.

    A multi-threaded process cannot unshare a user namespace, so a helper
    (util-linux ``unshare`` running sh) makes them all; we write its id maps
    (as root: no newuidmap needed) and it waits on stdin until we have pinned
    everything. The hostname is set from a thread that joins the UTS namespace
    (exec dropped the helper's capabilities in its namespace).
    """
    os.makedirs(directory, exist_ok=True)
    flags = {"net": "--net", "ipc": "--ipc", "uts": "--uts"}
    script = "echo started; read _; echo ready; read _"
    helper = subprocess.Popen(["unshare", "--user", *[flags[k] for k in kinds], "--",
                               "/bin/sh", "-c", script],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    paths = {kind: os.path.join(directory, kind) for kind in ["user", *kinds]}
    try:
        _expect(helper, b"started", directory)
        for name, m in (("uid_map", uid_map), ("gid_map", gid_map)):
            with open(f"/proc/{helper.pid}/{name}", "w") as f:
                f.write(f"{m['containerID']} {m['hostID']} {m['size']}\n")
        helper.stdin.write(b"go\n")
        helper.stdin.flush()
        _expect(helper, b"ready", directory)
        for kind, path in paths.items():
            with open(path, "w"):
                pass
            libc.mount(f"/proc/{helper.pid}/ns/{kind}", path, None, libc.MS_BIND)
        if "uts" in paths and hostname:
            set_hostname(paths["uts"], hostname)
    except OSError as e:
        unpin(paths)
        raise from_oserror(e, f"cannot pin namespaces in {directory}") from e
    except BaseException:
        unpin(paths)
        raise
    finally:
        try:
            helper.stdin.close()   # the helper reads EOF and exits
        except OSError:
            pass
        try:
            helper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
        helper.stdout.close()
        helper.stderr.close()
    return paths


def loopback_up(netns_path: str) -> None:
    """Bring up ``lo`` in a pod's network namespace (kubelet expects it; CNI configs may not)."""
    from hull.sys.netns import NetNS

    with NetNS(netns_path) as ns:
        with ns.netlink() as nl:
            lo = nl.link("lo")
            if lo is not None and not lo.up:
                nl.set_link(lo.index, up=True)


def set_hostname(uts_path: str, hostname: str) -> None:
    """Set the hostname of a pinned UTS namespace from a thread that joins it."""
    run_in_thread(_join_and_set_hostname, uts_path, hostname)


def _join_and_set_hostname(uts_path: str, hostname: str) -> None:
    fd = os.open(uts_path, os.O_RDONLY)
    try:
        libc.setns(fd, libc.CLONE_NEWUTS)
    finally:
        os.close(fd)
    libc.sethostname(hostname)


def _expect(helper: subprocess.Popen, word: bytes, directory: str) -> None:
    if helper.stdout.readline().strip() != word:
        helper.kill()
        cause = helper.stderr.read().decode(errors="replace").strip()
        raise Internal(f"cannot create user namespace in {directory}: "
                       f"{cause or 'the helper died'}")


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
