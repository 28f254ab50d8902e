"""Start-up reconciliation: the store against what survived (hulld may have been SIGKILLed).

- half-made sandboxes and containers (state "creating") are undone and forgotten;
- running containers whose conmon recorded an exit become exited with that code;
- ready sandboxes whose pinned namespaces vanished (a reboot) become not ready.
"""

from __future__ import annotations

import logging
import os

from hull.cri import lifecycle, sandbox_ops
from hull.cri.model import ContainerState, SandboxState

log = logging.getLogger("hull.cri")


def recover(d) -> dict:
    counts = {"removed_sandboxes": 0, "removed_containers": 0, "exited": 0, "not_ready": 0}
    for c in d.store.containers():
        if c.state is ContainerState.CREATING:
            lifecycle.release_sync(d, c)
            d.store.delete_container(c.id)
            counts["removed_containers"] += 1
        elif c.state is ContainerState.RUNNING:
            if lifecycle.refresh(d, c).state is ContainerState.EXITED:
                counts["exited"] += 1
    for sb in d.store.sandboxes():
        if sb.state is SandboxState.CREATING:
            for c in d.store.containers(sb.id):
                lifecycle.release_sync(d, c)
                d.store.delete_container(c.id)
            sandbox_ops.teardown(d, sb)
            sandbox_ops.remove_files(d, sb)
            d.store.delete_sandbox(sb.id)
            counts["removed_sandboxes"] += 1
        elif sb.state is SandboxState.READY and _lost(d, sb):
            sandbox_ops.teardown(d, sb)
            sb.state = SandboxState.NOTREADY
            d.store.save_sandbox(sb)
            counts["not_ready"] += 1
    if any(counts.values()):
        log.info("recovered state: %s", counts)
    return counts


def _lost(d, sb) -> bool:
    if any(not os.path.exists(p) for p in sb.namespaces.values()):
        return True
    if sb.infra_id:
        runtime = d.runtime(sb.runtime_handler)
        if runtime.exit_status(sb.infra_id) is not None:
            return True
        return not runtime.is_alive(sb.infra_id, sb.extra.get("infra_pid", 0))
    return False
