"""StopPodSandbox: kill the pod's containers, release network and namespaces.

Idempotent, and succeeds for unknown ids, as the CRI requires (kubelet
calls it repeatedly and after removals).
"""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle, sandbox_ops
from hull.cri.model import SandboxState


async def stop(d, sandbox_id: str) -> None:
    sb = d.store.sandbox(sandbox_id)
    if sb is None:
        return
    for c in d.store.containers(sandbox_id):
        async with d.locks.hold(c.id):
            c = d.store.container(c.id)
            if c is not None:
                await lifecycle.stop(d, c, 0)
    async with d.locks.hold(sandbox_id):
        sb = d.store.sandbox(sandbox_id)
        if sb is None:
            return
        await d.blocking(sandbox_ops.teardown, d, sb)
        sb.state = SandboxState.NOTREADY
        d.store.save_sandbox(sb)


async def handle(d, request: api.StopPodSandboxRequest, ctx) -> api.StopPodSandboxResponse:
    context.set_pod(request.pod_sandbox_id)
    await stop(d, request.pod_sandbox_id)
    return api.StopPodSandboxResponse()
