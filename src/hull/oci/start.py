"""``start``: release the init blocked on exec.fifo, then run poststart hooks."""

from __future__ import annotations

import os

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

    Non-blocking open and reads with a liveness check: if the init died, a
    blocking open would wait forever. (A read loop, not poll(): ``select`` is a
    shared-library load, more than the wait itself.)
    """
    import time

    try:
        fd = os.open(state.fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.FailedPrecondition("cannot start an already running container") from None
    try:
        delay = 0.0002
        while True:
            try:
                if os.read(fd, 1):
                    break
            except BlockingIOError:
                pass  # the init has the fifo open but has not written yet
            # b"" or EAGAIN: not yet; the init may still be opening, or in its hooks
            if not state.is_alive():
                raise errors.FailedPrecondition(
                    f"cannot start container {state.id}: its init exited before start")
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    finally:
        os.close(fd)
    try:
        os.unlink(state.fifo_path)
    except FileNotFoundError:
        pass
