"""PodSandboxStatus (with verbose info and the pod's container statuses)."""

from __future__ import annotations

import json

from hull._generated import api_pb2 as api
from hull.cri import context, convert, lifecycle
from hull.cri.model import now_ns
from hull.cri.store import require_sandbox


async def handle(d, request: api.PodSandboxStatusRequest, ctx) -> api.PodSandboxStatusResponse:
    context.set_pod(request.pod_sandbox_id)
    sb = require_sandbox(d.store, request.pod_sandbox_id, "get status of")
    response = api.PodSandboxStatusResponse(status=convert.sandbox_status(sb),
                                            timestamp=now_ns())
    for c in d.store.containers(sb.id):
        response.containers_statuses.append(convert.container_status(lifecycle.refresh(d, c)))
    if request.verbose:
        response.info["info"] = json.dumps({
            "pid": sb.extra.get("infra_pid", 0), "runtimeHandler": sb.runtime_handler,
            "namespaces": sb.namespaces, "cgroupParent": sb.cgroup_parent,
            "hostname": sb.extra.get("hostname", ""), "ips": sb.ips,
            "image": "hull-pause (busybox)" if sb.infra_id else ""})
    return response
