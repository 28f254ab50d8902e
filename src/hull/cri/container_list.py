"""ListContainers and StreamContainers, with the CRI filters."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import convert, lifecycle
from hull.cri.model import ContainerState


def matching(d, f: api.ContainerFilter) -> list[api.Container]:
    items = []
    for c in d.store.containers(f.pod_sandbox_id or None) if f.pod_sandbox_id else \
            d.store.containers():
        if c.state is ContainerState.CREATING:
            continue
        if f.id and not c.id.startswith(f.id):
            continue
        c = lifecycle.refresh(d, c)
        if f.HasField("state") and c.state.cri != f.state.state:
            continue
        if not convert.labels_match(c.config.labels, f.label_selector):
            continue
        items.append(convert.container_item(c))
    return items


async def handle(d, request: api.ListContainersRequest, ctx) -> api.ListContainersResponse:
    return api.ListContainersResponse(containers=matching(d, request.filter))


async def stream(d, request: api.StreamContainersRequest, ctx):
    items = matching(d, request.filter)
    for start in range(0, max(len(items), 1), 500):
        yield api.StreamContainersResponse(containers=items[start:start + 500])
