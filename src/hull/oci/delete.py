"""``delete``: tear a container down: its processes (created or forced),
its cgroup, poststop hooks, its state directory. Deleting what is already
gone is not an error with ``force``."""

from __future__ import annotations

import posix   # not os: see hull.oci.state.exists

from hull import errors
from hull.oci.log import NULL, Log
from hull.oci.state import STATE_FILE, State, Store, exists, lock
from hull.oci.status import Status

_WAIT_MS = 10_000


def delete(store: Store, container_id: str, force: bool = False, log: Log = NULL) -> None:
    try:
        state = store.load(container_id)
    except errors.NotFound:
        if force:
            return
        raise
    try:
        guard = lock(state.dir)   # one writer at a time (a racing delete finds it gone)
    except FileNotFoundError:
        if force:
            return
        raise errors.NotFound(f"container {container_id} does not exist") from None
    try:
        _delete_locked(store, state, force, log)
    finally:
        posix.close(guard)


def _delete_locked(store: Store, state: State, force: bool, log: Log) -> None:
    container_id = state.id
    if not exists(f"{state.dir}/{STATE_FILE}"):
        if force:
            return   # a concurrent delete finished first
        raise errors.NotFound(f"container {container_id} does not exist")
    manager = state.cgroup_manager()
    status = state.status(manager)
    if not status.can_delete() and not force:
        raise errors.FailedPrecondition(
            f"cannot delete container {container_id} that is not stopped: {status}")
    if status is not Status.STOPPED:
        if status is Status.PAUSED and manager is not None:
            _signal_all(manager)   # frozen tasks die once thawed
            manager.thaw()
        stop_init(state)
    if manager is not None:
        _kill_all(state, manager)
        manager.destroy()
    poststop = (state.config.get("hooks") or {}).get("poststop")
    if poststop:
        from hull.oci import hooks as hooklib

        hooklib.run_all_warning(poststop, "poststop", state.hook_state(Status.STOPPED),
                                lambda message: log.warning(f"container {container_id}: "
                                                            f"{message}"))
    store.remove(container_id)


def stop_init(state: State) -> None:
    """SIGKILL the init and wait until it has exited (it is not our child)."""
    try:
        pidfd = posix.pidfd_open(state.pid)
    except ProcessLookupError:
        return
    try:
        if not state.is_alive():
            return
        posix.kill(state.pid, 9)
        wait_exit(pidfd, _WAIT_MS)
    except ProcessLookupError:
        pass
    finally:
        posix.close(pidfd)


def wait_exit(pidfd: int, timeout_ms: int | None) -> bool:
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(timeout_ms))


def _signal_all(manager) -> list[int]:
    try:
        pids = manager.pids()
    except OSError:
        return []
    for pid in pids:
        try:
            posix.kill(pid, 9)
        except ProcessLookupError:
            pass
    return pids


def _kill_all(state: State, manager) -> None:
    """Processes left in the cgroup (no pid namespace, or a stray): SIGKILL them."""
    for _ in range(500):
        if not _signal_all(manager):
            return
        import time

        time.sleep(0.002)
