"""ReopenContainerLog: conmon's control fifo, message 2."""

from __future__ import annotations

import asyncio
import os

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle
from hull.cri.model import ContainerState
from hull.cri.store import require_container
from hull.errors import DeadlineExceeded, FailedPrecondition

REOPEN_WAIT_SECONDS = 10.0


async def handle(d, request: api.ReopenContainerLogRequest, ctx) -> api.ReopenContainerLogResponse:
    context.set_container(request.container_id)
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "reopen log of"))
    if c.state is not ContainerState.RUNNING:
        raise FailedPrecondition(f"cannot reopen log of container {c.id}: it is not running")
    await d.blocking(d.runtime(c.runtime_handler).reopen_log, c.id, lifecycle.bundle(d, c))
    # conmon reopens asynchronously; kubelet (and critest) expect the new file on return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REOPEN_WAIT_SECONDS
    while c.log_path and not os.path.exists(c.log_path):
        if loop.time() > deadline:
            raise DeadlineExceeded(f"cannot reopen log of container {c.id}: {c.log_path} was "
                                   f"not recreated within {REOPEN_WAIT_SECONDS:.0f}s")
        await asyncio.sleep(0.005)
    return api.ReopenContainerLogResponse()
