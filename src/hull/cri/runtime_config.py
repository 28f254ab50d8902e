"""RuntimeConfig (the cgroup driver) and UpdateRuntimeConfig (the pod CIDR)."""

from __future__ import annotations

import logging

from hull._generated import api_pb2 as api

log = logging.getLogger("hull.cri")


async def handle(d, request: api.RuntimeConfigRequest, ctx) -> api.RuntimeConfigResponse:
    response = api.RuntimeConfigResponse()
    response.linux.cgroup_driver = api.CGROUPFS
    return response


async def update(d, request: api.UpdateRuntimeConfigRequest,
                 ctx) -> api.UpdateRuntimeConfigResponse:
    cidr = request.runtime_config.network_config.pod_cidr
    if cidr:
        # the CNI config owns address ranges; kubelet's value is recorded for Status
        log.info("kubelet reports pod CIDR %s", cidr)
        d.pod_cidr = cidr
    return api.UpdateRuntimeConfigResponse()
