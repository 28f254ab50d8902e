"""ExecSync: run a command in a running container, output captured, timeout honoured."""

from __future__ import annotations

import json
import os

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle
from hull.cri.store import require_container
from hull.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument


def process_spec(d, c, cmd: list[str], tty: bool = False) -> dict:
    """The container's process, with another command (what runc exec runs)."""
    with open(os.path.join(lifecycle.bundle(d, c), "config.json")) as f:
        process = json.load(f)["process"]
    process["args"] = cmd
    process["terminal"] = tty
    return process


async def handle(d, request: api.ExecSyncRequest, ctx) -> api.ExecSyncResponse:
    context.set_container(request.container_id)
    if not request.cmd:
        raise InvalidArgument(f"cannot exec in container {request.container_id}: empty command")
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "exec in"))
    if not c.state.can_exec():
        raise FailedPrecondition(f"cannot exec in container {c.id}: it is {c.state.value}")
    process = process_spec(d, c, list(request.cmd))
    timeout = request.timeout if request.timeout > 0 else None
    result = await d.blocking(d.runtime(c.runtime_handler).exec_sync, c.id, process, timeout)
    if result.timed_out:
        raise DeadlineExceeded(f"cannot exec in container {c.id}: command {list(request.cmd)} "
                               f"timed out after {request.timeout}s")
    return api.ExecSyncResponse(stdout=result.stdout, stderr=result.stderr,
                                exit_code=result.exit_code)
