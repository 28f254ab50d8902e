"""Container state changes shared by several RPCs: exits, stop, remove.

Exits are noticed from conmon's exit files (``<state>/exits/<id>``): by the
watcher every 50 ms, and directly by any RPC that looks at a running
container, so status never lags the file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal as signals

from hull._generated import api_pb2 as api
from hull.cri import convert
from hull.cri.model import Container, ContainerState, SandboxState, now_ns
from hull.cri.runtime import Exit

log = logging.getLogger("hull.cri")

KILL_WAIT_SECONDS = 30.0


def publish(d, c: Container, kind: int) -> None:
    sb = d.store.sandbox(c.sandbox_id)
    event = api.ContainerEventResponse(container_id=c.id, container_event_type=kind,
                                       created_at=now_ns(),
                                       containers_statuses=[convert.container_status(c)])
    if sb is not None:
        event.pod_sandbox_status.CopyFrom(convert.sandbox_status(sb))
    d.events.publish(event)


def record_exit(d, c: Container, exit: Exit) -> None:
    c.state = ContainerState.EXITED
    c.exit_code = exit.exit_code
    c.finished_at = max(exit.finished_at or now_ns(), c.started_at)
    if exit.oom_killed or (exit.exit_code != 0 and _cgroup_saw_oom_kill(d, c)):
        c.reason = "OOMKilled"
    elif not c.reason:
        c.reason = "Completed" if exit.exit_code == 0 else "Error"
    d.store.save_container(c)
    publish(d, c, api.CONTAINER_STOPPED_EVENT)


def _cgroup_saw_oom_kill(d, c: Container) -> bool:
    """The kernel's own count of OOM kills in the container's cgroup.

    conmon writes its ``oom`` file from a cgroup event that can arrive
    after the exit file (v1 eventfd), so under load an OOM-killed container
    could read as a plain exit 137; the counter is already final then (the
    cgroup lives until the runtime deletes the container).
    """
    from hull.cri.stats import cgroup_stats, container_cgroup

    raw = cgroup_stats(container_cgroup(d.store.sandbox(c.sandbox_id), c), c.id)
    return bool(raw and (raw.get("memory") or {}).get("oomKillEvents", 0) > 0)


def bundle(d, c: Container) -> str:
    return d.container_dir(c.id)


def refresh(d, c: Container) -> Container:
    """Notice an exit that happened since the record was written."""
    if c.state is not ContainerState.RUNNING:
        return c
    runtime = d.runtime(c.runtime_handler)
    exit = runtime.exit_status(c.id, bundle(d, c))
    if exit is None and not runtime.is_alive(c.id, c.pid) and not _monitor_alive(d, c):
        exit = Exit(exit_code=255, finished_at=now_ns())   # gone without a record
        c.reason, c.message = "Error", "the container's monitor disappeared"
    if exit is not None:
        record_exit(d, c, exit)
    return c


def _monitor_alive(d, c: Container) -> bool:
    try:
        with open(os.path.join(bundle(d, c), "conmon.pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


async def watch_exits(d) -> None:
    exit_dir = os.path.join(d.config.state, "exits")
    handled: set[str] = set()   # exit files already accounted for (they stay until removal)
    while True:
        try:
            names = set(os.listdir(exit_dir))
        except FileNotFoundError:
            names = set()
        handled &= names
        for name in names - handled:
            c = d.store.container(name)
            if c is None or c.state is not ContainerState.RUNNING:
                if c is None and d.store.sandbox(name) is not None:
                    _infra_exited(d, name)
                if c is None or c.state is not ContainerState.CREATING:
                    handled.add(name)
                continue
            async with d.locks.hold(c.id):
                c = d.store.container(name)
                if c is not None:
                    refresh(d, c)
        await asyncio.sleep(0.05)


def _infra_exited(d, sandbox_id: str) -> None:
    sb = d.store.sandbox(sandbox_id)
    if sb and sb.state is SandboxState.READY and sb.infra_id and not sb.extra.get("infra_gone"):
        log.warning("infra process of pod %s exited: pod is not ready", sandbox_id[:13])
        sb.state = SandboxState.NOTREADY
        sb.extra["infra_gone"] = True
        d.store.save_sandbox(sb)


def stop_signal(c: Container) -> int:
    if c.config.stop_signal:
        name = api.Signal.Name(c.config.stop_signal)
        name = {"SIGCLD": "SIGCHLD", "SIGPOLL": "SIGIO", "SIGIOT": "SIGABRT"}.get(name, name)
        return int(getattr(signals, name, signals.SIGTERM))
    image_signal = c.extra.get("stop_signal") or ""
    if image_signal:
        if image_signal.isdigit():
            return int(image_signal)
        name = image_signal.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        return int(getattr(signals, name, signals.SIGTERM))
    return int(signals.SIGTERM)


async def wait_exit(d, c: Container, seconds: float) -> Exit | None:
    runtime = d.runtime(c.runtime_handler)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay = 0.002
    while True:
        exit = runtime.exit_status(c.id, bundle(d, c))
        if exit is not None:
            return exit
        if not _monitor_alive(d, c) and not runtime.is_alive(c.id, c.pid):
            return Exit(exit_code=137, finished_at=now_ns())
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def stop(d, c: Container, timeout: int) -> None:
    """Stop signal, wait ``timeout`` seconds, then SIGKILL; caller holds the lock."""
    refresh(d, c)
    if c.state is not ContainerState.RUNNING:
        return
    runtime = d.runtime(c.runtime_handler)
    exit = None
    if timeout > 0:
        await d.blocking(runtime.kill, c.id, stop_signal(c))
        exit = await wait_exit(d, c, float(timeout))
    if exit is None:
        await d.blocking(runtime.kill, c.id, int(signals.SIGKILL), True)
        exit = await wait_exit(d, c, KILL_WAIT_SECONDS)
    if exit is None:
        from hull.errors import DeadlineExceeded

        raise DeadlineExceeded(f"cannot stop container {c.id}: still running "
                               f"{KILL_WAIT_SECONDS:.0f}s after SIGKILL")
    record_exit(d, c, exit)
    # as containerd deletes the task on stop: the runtime's state and cgroup go now,
    # so RemoveContainer/RemovePodSandbox only drop files
    await d.blocking(_after_exit, d, runtime, c)
    c.extra["runtime_deleted"] = True
    d.store.save_container(c)


def _after_exit(d, runtime, c: Container) -> None:
    from hull.cri import rootfs

    runtime.delete(c.id)
    rootfs.unmount_all(d, c)   # the snapshot itself stays until RemoveContainer


def release_sync(d, c: Container) -> None:
    """Undo a container's runtime state, rootfs and bundle; idempotent."""
    from hull.cri import rootfs

    if not c.extra.get("runtime_deleted"):
        d.runtime(c.runtime_handler).delete(c.id)
    rootfs.release(d, c)
    shutil.rmtree(bundle(d, c), ignore_errors=True)


async def remove(d, c: Container) -> None:
    """Forcibly stop and forget a container; caller holds the lock."""
    if c.state is ContainerState.RUNNING:
        await stop(d, c, 0)
    await d.blocking(release_sync, d, c)
    d.store.delete_container(c.id)
    publish(d, c, api.CONTAINER_DELETED_EVENT)
