"""``pause`` and ``resume``: freeze and thaw every process of the container."""

from __future__ import annotations

import os

from hull import errors
from hull.oci.state import Store, lock


def pause(store: Store, container_id: str) -> None:
    state = store.load(container_id)
    guard = lock(state.dir)
    try:
        _pause(state, container_id)
    finally:
        os.close(guard)


def resume(store: Store, container_id: str) -> None:
    state = store.load(container_id)
    guard = lock(state.dir)
    try:
        _resume(state, container_id)
    finally:
        os.close(guard)


def _pause(state, container_id: str) -> None:
    manager = state.cgroup_manager()
    status = state.status(manager)
    if not status.can_pause():
        raise errors.FailedPrecondition(f"cannot pause container {container_id}: it is {status}")
    _require(manager, container_id, "pause")
    with open(state.paused_mark, "w"):
        pass
    try:
        manager.freeze()
    except BaseException:
        os.unlink(state.paused_mark)
        raise


def _resume(state, container_id: str) -> None:
    manager = state.cgroup_manager()
    status = state.status(manager)
    if not status.can_resume():
        raise errors.FailedPrecondition(
            f"cannot resume container {container_id}: it is {status}, not paused")
    _require(manager, container_id, "resume")
    manager.thaw()
    try:
        os.unlink(state.paused_mark)
    except FileNotFoundError:
        pass


def _require(manager, container_id: str, verb: str) -> None:
    if manager is None:
        raise errors.FailedPrecondition(f"cannot {verb} container {container_id}: "
                                        "it has no cgroup")
