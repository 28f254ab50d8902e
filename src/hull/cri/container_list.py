"""ListContainers and StreamContainers, with the CRI filters."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import convert, listing
from hull.cri.model import ContainerState


def matching(d, f: api.ContainerFilter) -> list[api.Container]:
    return [convert.container_item(c) for c in listing.containers(d, f)
            if c.state is not ContainerState.CREATING
            and (not f.HasField("state") or c.state.cri == f.state.state)]


async def handle(d, request: api.ListContainersRequest, ctx) -> api.ListContainersResponse:
    return api.ListContainersResponse(containers=matching(d, request.filter))


async def stream(d, request: api.StreamContainersRequest, ctx):
    for page in listing.pages(matching(d, request.filter), 500):
        yield api.StreamContainersResponse(containers=page)
