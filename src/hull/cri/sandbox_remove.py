"""RemovePodSandbox: stop, remove its containers, forget it. Unknown ids succeed."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle, sandbox_ops
from hull.cri.sandbox_stop import stop


async def handle(d, request: api.RemovePodSandboxRequest, ctx) -> api.RemovePodSandboxResponse:
    sandbox_id = request.pod_sandbox_id
    context.set_pod(sandbox_id)
    if d.store.sandbox(sandbox_id) is None:
        return api.RemovePodSandboxResponse()
    await stop(d, sandbox_id)
    for c in d.store.containers(sandbox_id):
        async with d.locks.hold(c.id):
            c = d.store.container(c.id)
            if c is not None:
                await lifecycle.remove(d, c)
    async with d.locks.hold(sandbox_id):
        sb = d.store.sandbox(sandbox_id)
        if sb is not None:
            await d.blocking(sandbox_ops.remove_files, d, sb)
            d.store.delete_sandbox(sandbox_id)
    return api.RemovePodSandboxResponse()
