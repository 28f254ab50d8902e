"""Removing what a validation program left on the host.

Containers are the entries of the private state directory; mounts are the
ones below the scratch directory (a container sharing the host mount
namespace leaves its proc, dev and sys there); cgroups are the new
directories with the programs' names (cgrouptest, testdir, container UUIDs).
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
OURS = re.compile(r"^(cgrouptest|testdir|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def _own_cgroup_paths() -> set[str]:
    """Our own cgroup in each hierarchy (relative), from /proc/self/cgroup."""
    try:
        with open("/proc/self/cgroup") as f:
            return {line.rstrip("\n").split(":", 2)[2].strip("/") for line in f if line.count(":") >= 2}
    except OSError:
        return set()


def cgroup_dirs() -> set[Path]:
    """Children of every hierarchy's root and of our own cgroup in it.

    A relative cgroupsPath (e.g. ``testdir/cgrouptest``) is resolved under the
    caller's cgroup, which the programs and the runtimes inherit from us.
    """
    found = set()
    own = _own_cgroup_paths()
    for hierarchy in CGROUP_ROOT.iterdir():
        if hierarchy.is_symlink() or not hierarchy.is_dir():
            continue
        for parent in {hierarchy} | {hierarchy / rel for rel in own if rel}:
            try:
                found.update(p for p in parent.iterdir() if p.is_dir())
            except OSError:
                continue
    return found


def remove_new_cgroups(before: set[Path], ids: set[str]) -> list[str]:
    """rmdir cgroups that appeared during the program and are ours by name."""
    removed = []
    for path in sorted(cgroup_dirs() - before, key=lambda p: -len(p.parts)):
        if not (OURS.match(path.name) or path.name in ids):
            continue
        for child in sorted(path.rglob("*"), key=lambda p: -len(p.parts)):
            if child.is_dir():
                try:
                    child.rmdir()
                except OSError:
                    pass
        for attempt in range(10):
            try:
                path.rmdir()
                removed.append(f"cgroup {path}")
                break
            except OSError as e:
                if attempt == 9:
                    removed.append(f"cgroup {path} NOT removed: {e.strerror}")
                time.sleep(0.3)
    return removed


def delete_leftover_containers(runtime: str, state_root: Path) -> list[str]:
    leftovers = []
    if not state_root.is_dir():
        return leftovers
    for entry in sorted(state_root.iterdir()):
        if not entry.is_dir():
            continue
        proc = subprocess.run([runtime, "--root", str(state_root), "delete", "--force", entry.name],
                              capture_output=True, text=True, timeout=60)
        note = "" if proc.returncode == 0 else f" (delete --force failed: {proc.stderr.strip()[:200]})"
        leftovers.append(f"container {entry.name}{note}")
    return leftovers


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below path, deepest first (from mountinfo)."""
    prefix = str(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefix):
                found.append(point)
    return sorted(set(found), key=lambda p: -p.count("/"))


def unmount_under(path: Path) -> list[str]:
    """Detach mounts a program left on the host (a container sharing the
    host mount namespace leaves its proc, dev, sys mounts behind)."""
    notes = []
    for _ in range(3):
        points = mounts_under(path)
        if not points:
            break
        for point in points:
            if _libc.umount2(point.encode(), MNT_DETACH) == 0:
                notes.append(f"mount {point}")
    for point in mounts_under(path):
        notes.append(f"mount {point} NOT unmounted")
    return notes


def remove_tree(path: Path) -> None:
    """rmtree, but never while something is still mounted inside."""
    if mounts_under(path):
        return
    for _ in range(5):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.2)
