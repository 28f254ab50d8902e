"""UpdateContainerResources: ``<runtime> update`` and remember the new values."""

from __future__ import annotations

import json
import os

from hull._generated import api_pb2 as api
from hull.cri import context, lifecycle, oci_spec
from hull.cri.model import ContainerState
from hull.cri.store import require_container
from hull.errors import FailedPrecondition


def _rewrite_spec(bundle: str, wanted: dict) -> None:
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    resources = spec.setdefault("linux", {}).setdefault("resources", {})
    resources.update(wanted)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(spec, f)
    os.replace(tmp, path)


async def handle(d, request: api.UpdateContainerResourcesRequest,
                 ctx) -> api.UpdateContainerResourcesResponse:
    context.set_container(request.container_id)
    async with d.locks.hold(request.container_id):
        c = lifecycle.refresh(d, require_container(d.store, request.container_id,
                                                   "update resources of"))
        if c.state is ContainerState.EXITED:
            raise FailedPrecondition(f"cannot update resources of container {c.id}: it exited")
        wanted = oci_spec.resources(request.linux)
        if c.state is ContainerState.RUNNING:
            await d.blocking(d.runtime(c.runtime_handler).update, c.id, wanted)
        else:   # not started yet: the bundle's spec carries them into StartContainer
            await d.blocking(_rewrite_spec, lifecycle.bundle(d, c), wanted)
        c.resources = request.linux.SerializeToString()
        d.store.save_container(c)
    return api.UpdateContainerResourcesResponse()
