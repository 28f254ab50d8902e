"""``start``: release the init blocked on exec.fifo, then run poststart hooks."""

from __future__ import annotations

import posix   # not os: see hull.oci.state.exists

from hull import errors
from hull.oci.log import NULL, Log
from hull.oci.state import State, Store
from hull.oci.status import Status



def start(store: Store, container_id: str, log: Log = NULL) -> State:
    state = store.load(container_id)
    status = state.status()
    if not status.can_start():
        raise errors.FailedPrecondition(_refusal(status))
    release_init(state)
    poststart = (state.config.get("hooks") or {}).get("poststart")
    if poststart:
        from hull.oci import hooks as hooklib

        hooklib.run_all_warning(poststart, "poststart", state.hook_state(Status.RUNNING),
                                lambda message: log.warning(f"container {container_id}: "
                                                            f"{message}"))
    return state


def _refusal(status: Status) -> str:
    if status is Status.STOPPED:
        return "cannot start a container that has stopped"
    if status is Status.PAUSED:
        return "cannot start a paused container"
    return "cannot start an already running container"


def release_init(state: State) -> None:
    """Open the fifo for reading; the init's blocked open returns, it runs the
    startContainer hooks and writes one byte.

    A non-blocking open (a blocking one would wait forever for a dead init),
    then one poll on the fifo and a pidfd of the init: it wakes on the byte or
    on the init's death, never sleeps past either (a sleep loop overshoots
    under load). Linux reports no hang-up on a fifo whose writer never came,
    so the poll waits for the init to open its end.
    """
    import select

    try:
        fd = posix.open(state.fifo_path, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.FailedPrecondition("cannot start an already running container") from None
    try:
        _wait_for_byte(state, fd, select)
    finally:
        posix.close(fd)
    try:
        posix.unlink(state.fifo_path)
    except FileNotFoundError:
        pass


def _wait_for_byte(state: State, fd: int, select) -> None:
    """The first look does not block: the pidfd is only trusted once the
    pid's start time said it is still our init (not a reused pid). Without
    pidfds (Linux < 5.3, valgrind) the poll wakes every 2 ms to look."""
    died = errors.FailedPrecondition(
        f"cannot start container {state.id}: its init exited before start")
    try:
        pidfd = posix.pidfd_open(state.pid)
    except OSError:   # ESRCH: gone (maybe after writing the byte); ENOSYS
        pidfd = None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        timeout = 0
        while True:
            if fd in {ready for ready, _ in poller.poll(timeout)}:
                if _read_byte(fd):
                    return
                raise died   # hang-up: the init closed its end without the byte
            if not state.is_alive():
                if _read_byte(fd):   # written just before it exited
                    return
                raise died
            timeout = None if pidfd is not None else 2
    finally:
        if pidfd is not None:
            posix.close(pidfd)


def _read_byte(fd: int) -> bool:
    try:
        return bool(posix.read(fd, 1))
    except BlockingIOError:
        return False
