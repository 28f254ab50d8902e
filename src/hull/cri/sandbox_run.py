"""RunPodSandbox: namespaces, files, network, infra; nothing left on failure."""

from __future__ import annotations

import secrets

from hull._generated import api_pb2 as api
from hull.cri import context, sandbox_ops
from hull.cri.model import Sandbox, SandboxState, sandbox_name
from hull.errors import InvalidArgument, NotFound


def validate(config: api.PodSandboxConfig, handler: str, d) -> None:
    meta = config.metadata
    if not (meta.name and meta.namespace and meta.uid):
        raise InvalidArgument("cannot run pod sandbox: metadata needs name, namespace and uid")
    if handler and handler not in d.runtimes:
        raise NotFound(f"cannot run pod sandbox {meta.name}: no runtime handler {handler!r} "
                       f"(configured: {', '.join(sorted(d.runtimes))})")
    sc = config.linux.security_context
    if sc.HasField("run_as_group") and not sc.HasField("run_as_user"):
        raise InvalidArgument(f"cannot run pod sandbox {meta.name}: run_as_group needs "
                              f"run_as_user")


async def handle(d, request: api.RunPodSandboxRequest, ctx) -> api.RunPodSandboxResponse:
    config = request.config
    validate(config, request.runtime_handler, d)
    sb = Sandbox(id=secrets.token_hex(32), name=sandbox_name(config.metadata), config=config,
                 runtime_handler=request.runtime_handler or d.config.default_runtime)
    context.set_pod(sb.id)
    d.store.add_sandbox(sb)
    async with d.locks.hold(sb.id):
        try:
            await d.blocking(sandbox_ops.setup, d, sb)
        except BaseException:
            await d.blocking(sandbox_ops.remove_files, d, sb)
            d.store.delete_sandbox(sb.id)
            raise
        sb.state = SandboxState.READY
        d.store.save_sandbox(sb)
    return api.RunPodSandboxResponse(pod_sandbox_id=sb.id)
