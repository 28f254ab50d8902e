"""PodSandboxStats, ListPodSandboxStats, StreamPodSandboxStats."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, listing, stats
from hull.cri.model import SandboxState
from hull.cri.store import require_sandbox


async def handle(d, request: api.PodSandboxStatsRequest, ctx) -> api.PodSandboxStatsResponse:
    context.set_pod(request.pod_sandbox_id)
    sb = require_sandbox(d.store, request.pod_sandbox_id, "get stats of")
    return api.PodSandboxStatsResponse(stats=await d.blocking(stats.sandbox_stats, d, sb))


def matching(d, f: api.PodSandboxStatsFilter) -> list[api.PodSandboxStats]:
    return [stats.sandbox_stats(d, sb) for sb in listing.sandboxes(d, f)
            if sb.state is SandboxState.READY]


async def list_all(d, request: api.ListPodSandboxStatsRequest,
                   ctx) -> api.ListPodSandboxStatsResponse:
    return api.ListPodSandboxStatsResponse(stats=await d.blocking(matching, d, request.filter))


async def stream(d, request: api.StreamPodSandboxStatsRequest, ctx):
    for page in listing.pages(await d.blocking(matching, d, request.filter), 200):
        yield api.StreamPodSandboxStatsResponse(pod_sandbox_stats=page)
