"""StartContainer: conmon runs ``<runtime> create``, then ``<runtime> start``."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle
from hull.cri.model import ContainerState, SandboxState, now_ns
from hull.cri.runtime import CreateRequest
from hull.cri.store import require_container
from hull.errors import FailedPrecondition


def run(d, c) -> tuple[int, int]:
    """(pid, when the process was started, in ns)."""
    runtime = d.runtime(c.runtime_handler)
    config = c.config
    pid = runtime.create(CreateRequest(container_id=c.id, name=config.metadata.name,
                                       bundle=lifecycle.bundle(d, c), log_path=c.log_path,
                                       stdin=config.stdin, stdin_once=config.stdin_once,
                                       tty=config.tty))
    started = now_ns()   # before `start`: a quick process may exit before it returns
    try:
        runtime.start(c.id)
    except BaseException:
        runtime.kill(c.id, 9, True)
        runtime.delete(c.id)
        raise
    return pid, started


async def handle(d, request: api.StartContainerRequest, ctx) -> api.StartContainerResponse:
    context.set_container(request.container_id)
    async with d.locks.hold(request.container_id):
        c = require_container(d.store, request.container_id, "start")
        context.set_pod(c.sandbox_id)
        if not c.state.can_start():
            raise FailedPrecondition(f"cannot start container {c.id}: it is {c.state.value}")
        sb = d.store.sandbox(c.sandbox_id)
        if sb is None or sb.state is not SandboxState.READY:
            raise FailedPrecondition(f"cannot start container {c.id}: its pod sandbox is not "
                                     f"ready")
        try:
            c.pid, c.started_at = await d.blocking(run, d, c)
        except Exception as e:
            c.state, c.finished_at, c.exit_code = ContainerState.EXITED, now_ns(), 128
            c.reason, c.message = "StartError", str(e)
            d.store.save_container(c)
            raise
        c.state = ContainerState.RUNNING
        d.store.save_container(c)
        lifecycle.publish(d, c, api.CONTAINER_STARTED_EVENT)
    return api.StartContainerResponse()
