"""``start``: release the init blocked on exec.fifo, then run poststart hooks."""

from __future__ import annotations

import os

from hull import errors
from hull.oci.log import NULL, Log
from hull.oci.state import State, Store
from hull.oci.status import Status

_POLL_MS = 20


def start(store: Store, container_id: str, log: Log = NULL) -> State:
    state = store.load(container_id)
    status = state.status()
    if not status.can_start():
        raise errors.FailedPrecondition(_refusal(status))
    release_init(state)
    poststart = (state.config.get("hooks") or {}).get("poststart")
    if poststart:
        from hull.oci import hooks as hooklib

        try:
            hooklib.run_all(poststart, "poststart", state.hook_state(Status.RUNNING))
        except errors.HullError as e:  # the spec: log a warning, carry on
            log.warning(f"container {container_id}: {e}")
    return state


def _refusal(status: Status) -> str:
    if status is Status.STOPPED:
        return "cannot start a container that has stopped"
    if status is Status.PAUSED:
        return "cannot start a paused container"
    return "cannot start an already running container"


def release_init(state: State) -> None:
    """Open the fifo for reading; the init's blocked open returns and it writes one byte.

    Non-blocking open, then poll with a liveness check: if the init died,
    a blocking open would wait forever.
    """
    import select

    try:
        fd = os.open(state.fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.FailedPrecondition("cannot start an already running container") from None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(_POLL_MS):
                data = os.read(fd, 1)
                if data:
                    break
            if not state.is_alive():
                raise errors.FailedPrecondition(
                    f"cannot start container {state.id}: its init exited before start")
    finally:
        os.close(fd)
    try:
        os.unlink(state.fifo_path)
    except FileNotFoundError:
        pass
