"""UpdateContainerResources: ``<runtime> update`` and remember the new values."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle, oci_spec
from hull.cri.model import ContainerState
from hull.cri.store import require_container
from hull.errors import FailedPrecondition


async def handle(d, request: api.UpdateContainerResourcesRequest,
                 ctx) -> api.UpdateContainerResourcesResponse:
    context.set_container(request.container_id)
    async with d.locks.hold(request.container_id):
        c = lifecycle.refresh(d, require_container(d.store, request.container_id,
                                                   "update resources of"))
        if c.state is ContainerState.EXITED:
            raise FailedPrecondition(f"cannot update resources of container {c.id}: it exited")
        if c.state is ContainerState.RUNNING:
            wanted = oci_spec.resources(request.linux)
            await d.blocking(d.runtime(c.runtime_handler).update, c.id, wanted)
        c.resources = request.linux.SerializeToString()
        d.store.save_container(c)
    return api.UpdateContainerResourcesResponse()
