"""Namespaces: their clone flags, joining by path, leaving with unshare,
and the per-process switches a runtime flips around them (dumpable,
no_new_privs, session keyring, subreaper)."""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull.sys.libc import (CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS,
                           CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS,
                           PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS,
                           PR_SET_PDEATHSIG, _check, _libc, prctl, setns, unshare)

#: runtime-spec namespace type -> (clone flag, name under /proc/<pid>/ns)
NAMESPACES = {
    "user": (CLONE_NEWUSER, "user"),
    "mount": (CLONE_NEWNS, "mnt"),
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "uts": (CLONE_NEWUTS, "uts"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}

__all__ = ["NAMESPACES", "unshare", "setns", "join", "same_namespace", "set_dumpable",
           "set_no_new_privs", "set_child_subreaper", "set_parent_death_signal",
           "join_session_keyring"]


def join(path: str, kind: str) -> None:
    """setns into the namespace file at ``path`` (e.g. /proc/<pid>/ns/net)."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        setns(fd, NAMESPACES[kind][0])
    finally:
        posix.close(fd)


def same_namespace(pid: int, kind: str) -> bool:
    """Whether ``pid`` shares our namespace of ``kind`` (setns into our own fails)."""
    name = NAMESPACES[kind][1]
    mine = posix.stat(f"/proc/self/ns/{name}")
    theirs = posix.stat(f"/proc/{pid}/ns/{name}")
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def set_dumpable(on: bool) -> None:
    prctl(PR_SET_DUMPABLE, 1 if on else 0)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_child_subreaper() -> None:
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(signal: int) -> None:
    prctl(PR_SET_PDEATHSIG, signal)


_KEYCTL = {"x86_64": 250, "aarch64": 219}
_KEYCTL_JOIN_SESSION_KEYRING = 1


def join_session_keyring(name: str) -> None:
    """A fresh session keyring, so the container does not share the caller's keys."""
    number = _KEYCTL.get(posix.uname().machine, 250)
    _check(_libc.syscall(number, _KEYCTL_JOIN_SESSION_KEYRING, name.encode()))

