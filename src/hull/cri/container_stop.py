"""StopContainer: stop signal, grace period, SIGKILL. Unknown ids succeed (CRI rule)."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle


async def handle(d, request: api.StopContainerRequest, ctx) -> api.StopContainerResponse:
    context.set_container(request.container_id)
    async with d.locks.hold(request.container_id):
        c = d.store.container(request.container_id)
        if c is not None:
            context.set_pod(c.sandbox_id)
            await lifecycle.stop(d, c, max(request.timeout, 0))
    return api.StopContainerResponse()
