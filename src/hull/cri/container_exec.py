"""Exec: a URL on the streaming server."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle
from hull.cri.store import require_container
from hull.errors import FailedPrecondition, InvalidArgument


async def handle(d, request: api.ExecRequest, ctx) -> api.ExecResponse:
    context.set_container(request.container_id)
    if not request.cmd:
        raise InvalidArgument(f"cannot exec in container {request.container_id}: empty command")
    if not (request.stdin or request.stdout or request.stderr):
        raise InvalidArgument("cannot exec: one of stdin, stdout or stderr must be set")
    if request.tty and request.stderr:
        raise InvalidArgument("cannot exec: stderr must be false with a tty")
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "exec in"))
    if not c.state.can_exec():
        raise FailedPrecondition(f"cannot exec in container {c.id}: it is {c.state.value}")
    return api.ExecResponse(url=await d.blocking(d.streaming.get_exec_url, request))
