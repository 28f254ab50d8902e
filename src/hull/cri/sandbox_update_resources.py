"""UpdatePodSandboxResources: kubelet already resized the pod cgroup; record it."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context
from hull.cri.store import require_sandbox


async def handle(d, request: api.UpdatePodSandboxResourcesRequest,
                 ctx) -> api.UpdatePodSandboxResourcesResponse:
    context.set_pod(request.pod_sandbox_id)
    async with d.locks.hold(request.pod_sandbox_id):
        sb = require_sandbox(d.store, request.pod_sandbox_id, "update resources of")
        sb.extra["resources"] = request.resources.SerializeToString().hex()
        sb.extra["overhead"] = request.overhead.SerializeToString().hex()
        d.store.save_sandbox(sb)
    return api.UpdatePodSandboxResourcesResponse()
