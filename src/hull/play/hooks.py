"""Container lifecycle hooks: postStart after start, preStop before stop (kubelet's rules).

Handlers: exec (ExecSync in the container), httpGet and tcpSocket (as the
probes, from the host to the pod IP), sleep. preStop counts against the
termination grace period; a failed postStart kills the container and the
restart policy applies (event FailedPostStartHook).
"""

from __future__ import annotations

import time

from hull.play import probes


def run(handler: dict, container: dict, container_id: str, pod_ip: str, runtime,
        timeout: float) -> probes.Result:
    if handler.get("sleep") is not None:
        time.sleep(min(float(handler["sleep"].get("seconds", 0)), max(0.0, timeout)))
        return probes.Result(True, "")
    probe = dict(handler)
    probe["timeoutSeconds"] = max(1, int(timeout))
    return probes.run(probe, container, container_id, pod_ip, runtime)
