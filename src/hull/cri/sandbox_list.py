"""ListPodSandbox and StreamPodSandboxes, with the CRI filters."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import convert
from hull.cri.model import SandboxState


def matching(d, f: api.PodSandboxFilter) -> list[api.PodSandbox]:
    items = []
    for sb in d.store.sandboxes():
        if sb.state is SandboxState.CREATING:
            continue
        if f.id and not sb.id.startswith(f.id):
            continue
        if f.HasField("state") and sb.state.cri != f.state.state:
            continue
        if not convert.labels_match(sb.config.labels, f.label_selector):
            continue
        items.append(convert.sandbox_item(sb))
    return items


async def handle(d, request: api.ListPodSandboxRequest, ctx) -> api.ListPodSandboxResponse:
    return api.ListPodSandboxResponse(items=matching(d, request.filter))


async def stream(d, request: api.StreamPodSandboxesRequest, ctx):
    items = matching(d, request.filter)
    for start in range(0, max(len(items), 1), 500):
        yield api.StreamPodSandboxesResponse(pod_sandboxes=items[start:start + 500])
