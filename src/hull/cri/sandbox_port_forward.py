"""PortForward: a URL on the streaming server."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context
from hull.cri.model import SandboxState
from hull.cri.store import require_sandbox
from hull.errors import FailedPrecondition


async def handle(d, request: api.PortForwardRequest, ctx) -> api.PortForwardResponse:
    context.set_pod(request.pod_sandbox_id)
    sb = require_sandbox(d.store, request.pod_sandbox_id, "port-forward to")
    if sb.state is not SandboxState.READY:
        raise FailedPrecondition(f"cannot port-forward to pod sandbox {sb.id}: it is not ready")
    return api.PortForwardResponse(url=await d.blocking(d.streaming.get_port_forward_url,
                                                        request))
