"""ContainerStats, ListContainerStats, StreamContainerStats."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle, listing, stats
from hull.cri.model import ContainerState
from hull.cri.store import require_container


async def handle(d, request: api.ContainerStatsRequest, ctx) -> api.ContainerStatsResponse:
    context.set_container(request.container_id)
    c = lifecycle.refresh(d, require_container(d.store, request.container_id, "get stats of"))
    sb = d.store.sandbox(c.sandbox_id)
    return api.ContainerStatsResponse(stats=await d.blocking(stats.container_stats, d, sb, c))


def matching(d, f: api.ContainerStatsFilter) -> list[api.ContainerStats]:
    return [stats.container_stats(d, d.store.sandbox(c.sandbox_id), c)
            for c in listing.containers(d, f) if c.state is ContainerState.RUNNING]


async def list_all(d, request: api.ListContainerStatsRequest,
                   ctx) -> api.ListContainerStatsResponse:
    return api.ListContainerStatsResponse(stats=await d.blocking(matching, d, request.filter))


async def stream(d, request: api.StreamContainerStatsRequest, ctx):
    for page in listing.pages(await d.blocking(matching, d, request.filter), 200):
        yield api.StreamContainerStatsResponse(container_stats=page)
