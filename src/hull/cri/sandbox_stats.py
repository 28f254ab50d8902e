"""PodSandboxStats, ListPodSandboxStats, StreamPodSandboxStats."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, convert, stats
from hull.cri.model import SandboxState
from hull.cri.store import require_sandbox


async def handle(d, request: api.PodSandboxStatsRequest, ctx) -> api.PodSandboxStatsResponse:
    context.set_pod(request.pod_sandbox_id)
    sb = require_sandbox(d.store, request.pod_sandbox_id, "get stats of")
    return api.PodSandboxStatsResponse(stats=await d.blocking(stats.sandbox_stats, d, sb))


def matching(d, f: api.PodSandboxStatsFilter) -> list[api.PodSandboxStats]:
    found = []
    for sb in d.store.sandboxes():
        if sb.state is not SandboxState.READY:
            continue
        if f.id and not sb.id.startswith(f.id):
            continue
        if not convert.labels_match(sb.config.labels, f.label_selector):
            continue
        found.append(stats.sandbox_stats(d, sb))
    return found


async def list_all(d, request: api.ListPodSandboxStatsRequest,
                   ctx) -> api.ListPodSandboxStatsResponse:
    return api.ListPodSandboxStatsResponse(stats=await d.blocking(matching, d, request.filter))


async def stream(d, request: api.StreamPodSandboxStatsRequest, ctx):
    items = await d.blocking(matching, d, request.filter)
    for start in range(0, max(len(items), 1), 200):
        yield api.StreamPodSandboxStatsResponse(pod_sandbox_stats=items[start:start + 200])
