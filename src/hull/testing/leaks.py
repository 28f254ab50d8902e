"""Snapshots of the kernel objects tests can leave behind.

``take()`` records mounts, network namespaces, links, loop devices,
cgroups, nftables tables and processes; ``leaked(before, after)`` names
what appeared in between. The test suite compares a snapshot from its
start with one from its end and fails the run on any difference.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass
class Snapshot:
    mounts: set[str] = field(default_factory=set)
    netns: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)
    loops: set[str] = field(default_factory=set)
    cgroups: set[str] = field(default_factory=set)
    nft_tables: set[str] = field(default_factory=set)
    processes: set[str] = field(default_factory=set)


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def _listdir(path: str) -> set[str]:
    try:
        return set(os.listdir(path))
    except FileNotFoundError:
        return set()


def _loops() -> set[str]:
    found = set()
    for name in _listdir("/sys/block"):
        backing = f"/sys/block/{name}/loop/backing_file"
        if os.path.exists(backing):
            with open(backing) as f:
                found.add(f"/dev/{name} -> {f.read().strip()}")
    return found


def _cgroups() -> set[str]:
    found = set()
    if not os.path.isdir(CGROUP_ROOT):
        return found
    for hierarchy in _listdir(CGROUP_ROOT):
        top = os.path.join(CGROUP_ROOT, hierarchy)
        for dirpath, dirnames, _ in os.walk(top):
            found.update(os.path.join(dirpath, d) for d in dirnames)
    return found


def _nft_tables() -> set[str]:
    try:
        out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip() for line in out.splitlines() if line.strip()}


def _processes(marker: str) -> set[str]:
    """Processes carrying ``marker`` in their environment, or in another pid namespace."""
    own_pidns = os.readlink("/proc/self/ns/pid")
    found = set()
    needle = marker.encode()
    for pid in _listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            if stat.rsplit(b")", 1)[1].split()[0] == b"Z":
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
            with open(f"/proc/{pid}/environ", "rb") as f:
                tagged = needle in f.read()
            other_ns = os.readlink(f"/proc/{pid}/ns/pid") != own_pidns
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if tagged or other_ns:
            found.add(f"{pid} {cmd}")
    return found


def take(marker: str) -> Snapshot:
    return Snapshot(
        mounts=_mounts(),
        netns=_listdir("/run/netns"),
        links=_listdir("/sys/class/net"),
        loops=_loops(),
        cgroups=_cgroups(),
        nft_tables=_nft_tables(),
        processes=_processes(marker),
    )


def leaked(before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
    """What ``after`` has that ``before`` had not, by kind; empty when clean."""
    report = {}
    for kind in before.__dataclass_fields__:
        new = sorted(getattr(after, kind) - getattr(before, kind))
        if new:
            report[kind] = new
    return report
