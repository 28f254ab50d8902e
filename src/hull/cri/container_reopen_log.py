"""ReopenContainerLog: conmon's control fifo, message 2."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle
from hull.cri.model import ContainerState
from hull.cri.store import require_container
from hull.errors import FailedPrecondition


async def handle(d, request: api.ReopenContainerLogRequest, ctx) -> api.ReopenContainerLogResponse:
    context.set_container(request.container_id)
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "reopen log of"))
    if c.state is not ContainerState.RUNNING:
        raise FailedPrecondition(f"cannot reopen log of container {c.id}: it is not running")
    await d.blocking(d.runtime(c.runtime_handler).reopen_log, c.id, lifecycle.bundle(d, c))
    return api.ReopenContainerLogResponse()
