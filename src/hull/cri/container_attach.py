"""Attach: a URL on the streaming server."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle
from hull.cri.store import require_container
from hull.errors import FailedPrecondition, InvalidArgument


async def handle(d, request: api.AttachRequest, ctx) -> api.AttachResponse:
    context.set_container(request.container_id)
    if not (request.stdin or request.stdout or request.stderr):
        raise InvalidArgument("cannot attach: one of stdin, stdout or stderr must be set")
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "attach to"))
    if not c.state.can_exec():
        raise FailedPrecondition(f"cannot attach to container {c.id}: it is {c.state.value}")
    return api.AttachResponse(url=await d.blocking(d.streaming.get_attach_url, request))
