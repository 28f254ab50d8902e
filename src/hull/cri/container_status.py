"""ContainerStatus."""

from __future__ import annotations

import json
import os

from hull._generated import api_pb2 as api
from hull.cri import context, convert, lifecycle
from hull.cri.store import require_container


def _spec(bundle: str) -> dict | None:
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


async def handle(d, request: api.ContainerStatusRequest, ctx) -> api.ContainerStatusResponse:
    context.set_container(request.container_id)
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "get status of"))
    response = api.ContainerStatusResponse(status=convert.container_status(c))
    if request.verbose:
        response.info["info"] = json.dumps({
            "pid": c.pid, "sandboxID": c.sandbox_id, "runtimeHandler": c.runtime_handler,
            "bundle": lifecycle.bundle(d, c), "user": c.extra.get("user"),
            "runtimeSpec": _spec(lifecycle.bundle(d, c))})
    return response
