"""Status: RuntimeReady, NetworkReady (with the CNI's reason), handler features."""

from __future__ import annotations

import json

from hull._generated import api_pb2 as api


async def handle(d, request: api.StatusRequest, ctx) -> api.StatusResponse:
    network_problem = await d.blocking(d.network.status)
    conditions = [
        api.RuntimeCondition(type="RuntimeReady", status=True),
        api.RuntimeCondition(type="NetworkReady", status=not network_problem,
                             reason="NetworkPluginNotReady" if network_problem else "",
                             message=network_problem),
    ]
    response = api.StatusResponse(status=api.RuntimeStatus(conditions=conditions))
    response.features.supplemental_groups_policy = True
    for name, runtime in d.runtimes.items():
        features = await d.blocking(runtime.features)
        for handler_name in ([""] if name == d.config.default_runtime else []) + [name]:
            handler = response.runtime_handlers.add(name=handler_name)
            handler.features.recursive_read_only_mounts = features.recursive_read_only_mounts
            handler.features.user_namespaces = features.user_namespaces
    if request.verbose:
        response.info["config"] = json.dumps({
            "root": d.config.root, "state": d.config.state,
            "defaultRuntime": d.config.default_runtime,
            "runtimes": {n: h.path for n, h in d.config.runtimes.items()},
            "cniConfDir": d.config.cni_conf_dir, "cniBinDirs": d.config.cni_bin_dirs,
            "cgroupDriver": "cgroupfs"})
    return response
