"""Per-container facts behind the cAdvisor-named CRI metrics (blocking reads)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hull.cri.stats import container_cgroup, writable_layer
from hull.errors import HullError


@dataclass
class ContainerFacts:
    raw: dict                                   # hull.cgroups stats shape
    pids: list[int] = field(default_factory=list)
    threads: int = 0
    fds: int = 0
    sockets: int = 0
    fs_used: int = 0
    fs_inodes: int = 0
    fs_inodes_free: int = 0
    fs_limit: int = 0


def _threads(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _fds(pid: int) -> tuple[int, int]:
    fds = sockets = 0
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0, 0
    for name in names:
        fds += 1
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                sockets += 1
        except OSError:
            pass
    return fds, sockets


def gather(d, sb, c, at: int) -> ContainerFacts | None:
    from hull.cgroups import open_manager

    try:
        manager = open_manager(container_cgroup(sb, c), container_id=c.id)
        raw = manager.stats()
        pids = manager.pids()
    except (HullError, OSError):
        return None
    facts = ContainerFacts(raw=raw, pids=pids)
    for pid in pids:
        facts.threads += _threads(pid)
        fds, sockets = _fds(pid)
        facts.fds += fds
        facts.sockets += sockets
    layer = writable_layer(d, c, at)
    facts.fs_used, facts.fs_inodes = layer.used_bytes.value, layer.inodes_used.value
    try:
        vfs = os.statvfs(layer.fs_id.mountpoint)
        facts.fs_inodes_free = vfs.f_favail
        facts.fs_limit = vfs.f_blocks * vfs.f_frsize
    except OSError:
        pass
    return facts
