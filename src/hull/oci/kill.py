"""``kill``: signal the init, or with ``all`` every process in the cgroup."""

from __future__ import annotations

import posix   # not os: see hull.oci.state.exists

from hull import errors
from hull.oci.state import State, Store


def kill(store: Store, container_id: str, signal: int, all_processes: bool = False) -> None:
    state = store.load(container_id)
    status = state.status()
    if not status.can_kill():
        if all_processes and _signal_cgroup(state, signal, strict=False):
            return  # stopped init, stray processes left: runc --all still reaches them
        raise errors.FailedPrecondition("container not running")
    if all_processes:
        _signal_cgroup(state, signal, strict=True)
        return
    try:
        posix.kill(state.pid, signal)
    except ProcessLookupError:
        raise errors.FailedPrecondition("container not running") from None


def _signal_cgroup(state: State, signal: int, strict: bool) -> bool:
    """Freeze, signal each process, thaw (so none forks past us)."""
    manager = state.cgroup_manager()
    if manager is None:
        if strict:
            posix.kill(state.pid, signal)
        return strict
    try:
        pids = manager.pids()
    except OSError:
        return False
    if not pids:
        return False
    frozen = False
    if signal != 9:
        try:
            manager.freeze()
            frozen = True
            pids = manager.pids()
        except (OSError, errors.HullError):
            pass
    for pid in pids:
        try:
            posix.kill(pid, signal)
        except ProcessLookupError:
            pass
    if frozen:
        manager.thaw()
    return True
