"""ContainerStats, ListContainerStats, StreamContainerStats."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, convert, lifecycle, stats
from hull.cri.model import ContainerState
from hull.cri.store import require_container


async def handle(d, request: api.ContainerStatsRequest, ctx) -> api.ContainerStatsResponse:
    context.set_container(request.container_id)
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "get stats of"))
    sb = d.store.sandbox(c.sandbox_id)
    return api.ContainerStatsResponse(stats=await d.blocking(stats.container_stats, d, sb, c))


def matching(d, f: api.ContainerStatsFilter) -> list[api.ContainerStats]:
    found = []
    for c in d.store.containers(f.pod_sandbox_id) if f.pod_sandbox_id else d.store.containers():
        if f.id and not c.id.startswith(f.id):
            continue
        if not convert.labels_match(c.config.labels, f.label_selector):
            continue
        c = lifecycle.refresh(d, c)
        if c.state is not ContainerState.RUNNING:
            continue
        found.append(stats.container_stats(d, d.store.sandbox(c.sandbox_id), c))
    return found


async def list_all(d, request: api.ListContainerStatsRequest,
                   ctx) -> api.ListContainerStatsResponse:
    return api.ListContainerStatsResponse(stats=await d.blocking(matching, d, request.filter))


async def stream(d, request: api.StreamContainerStatsRequest, ctx):
    items = await d.blocking(matching, d, request.filter)
    for start in range(0, max(len(items), 1), 200):
        yield api.StreamContainerStatsResponse(container_stats=items[start:start + 200])
