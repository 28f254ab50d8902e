"""ListPodSandbox and StreamPodSandboxes, with the CRI filters."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import convert, listing
from hull.cri.model import SandboxState


def matching(d, f: api.PodSandboxFilter) -> list[api.PodSandbox]:
    return [convert.sandbox_item(sb) for sb in listing.sandboxes(d, f)
            if sb.state is not SandboxState.CREATING
            and (not f.HasField("state") or sb.state.cri == f.state.state)]


async def handle(d, request: api.ListPodSandboxRequest, ctx) -> api.ListPodSandboxResponse:
    return api.ListPodSandboxResponse(items=matching(d, request.filter))


async def stream(d, request: api.StreamPodSandboxesRequest, ctx):
    for page in listing.pages(matching(d, request.filter), 500):
        yield api.StreamPodSandboxesResponse(pod_sandboxes=page)
