"""What `hull get pods` and `hull describe pod` print, from the state database."""

from __future__ import annotations

import datetime
import json
import time

from hull.play.model import Pod
from hull.play.state import State


def age(since: float, now: float | None = None) -> str:
    """kubectl's short ages: 45s, 3m12s, 5h, 2d."""
    seconds = int(max(0, (now or time.time()) - since))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 600:
        return f"{seconds // 60}m{seconds % 60}s"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def pod_rows(state: State, namespace: str | None = None, names: list[str] | None = None):
    rows = []
    for row in state.pods():
        if namespace and row["namespace"] != namespace:
            continue
        if names and row["name"] not in names:
            continue
        rows.append((row, state.containers(row["key"])))
    return rows


def status_text(row, containers) -> str:
    if row["desired"] == "deleted":
        return "Terminating"
    return row["reason"] or row["phase"]


def table(rows, wide: bool = False, all_namespaces: bool = False) -> str:
    header = (["NAMESPACE"] if all_namespaces else []) + \
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] + (["IP", "NODE"] if wide else [])
    lines = [header]
    now = time.time()
    for row, containers in rows:
        mains = [c for c in containers if not c["init"]]
        ready = sum(1 for c in mains if c["ready"])
        restarts = sum(c["restarts"] for c in mains)
        last = max((c["finished_at"] for c in mains if c["restarts"]), default=0)
        restart_text = str(restarts) + (f" ({age(last, now)} ago)" if restarts and last else "")
        line = ([row["namespace"]] if all_namespaces else []) + \
            [row["name"], f"{ready}/{len(mains)}", status_text(row, containers), restart_text,
             age(row["created"], now)]
        if wide:
            spec = json.loads(row["doc"]).get("spec") or {}
            ip = row["pod_ip"] or ("host" if spec.get("hostNetwork") else "<none>")
            import os
            line += [ip, os.uname().nodename]
        lines.append(line)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("   ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip()
                     for line in lines)


def _iso(t: float) -> str | None:
    if not t:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def pod_object(row, containers) -> dict:
    """The pod as the API would return it: the spec played plus a status."""
    doc = json.loads(row["doc"])
    doc["metadata"]["uid"] = row["uid"]
    doc["metadata"]["creationTimestamp"] = _iso(row["created"])
    statuses, init_statuses = [], []
    for c in containers:
        entry = {"name": c["name"], "image": c["image"], "ready": bool(c["ready"]),
                 "restartCount": c["restarts"], "started": c["state"] == "running",
                 "containerID": f"hull://{c['container_id']}" if c["container_id"] else "",
                 "state": _state(c)}
        if c["last_state"] and c["restarts"]:
            last = json.loads(c["last_state"])
            entry["lastState"] = {"terminated": {
                "exitCode": last["exitCode"], "reason": last["reason"],
                "startedAt": _iso(last["startedAt"]), "finishedAt": _iso(last["finishedAt"])}}
        (init_statuses if c["init"] else statuses).append(entry)
    pod = Pod.from_dict(doc)
    conditions = [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Initialized", "status": str(all(
            c["state"] == "terminated" and c["exit_code"] == 0
            for c in containers if c["init"])).replace("T", "T")},
        {"type": "ContainersReady", "status": "True" if row["ready"] else "False"},
        {"type": "Ready", "status": "True" if row["ready"] else "False"},
    ]
    doc["status"] = {
        "phase": row["phase"], "podIP": row["pod_ip"] or None,
        "podIPs": [{"ip": row["pod_ip"]}] if row["pod_ip"] else [],
        "hostIP": "127.0.0.1", "startTime": _iso(row["started"]),
        "conditions": conditions, "containerStatuses": statuses,
        "qosClass": _qos(pod),
    }
    if init_statuses:
        doc["status"]["initContainerStatuses"] = init_statuses
    if row["message"]:
        doc["status"]["message"] = row["message"]
        doc["status"]["reason"] = row["reason"]
    return doc


def _qos(pod: Pod) -> str:
    from hull.play.translate import qos_class
    return qos_class(pod)


def _state(c) -> dict:
    if c["state"] == "running":
        return {"running": {"startedAt": _iso(c["started_at"])}}
    if c["state"] == "terminated" and c["reason"] != "CrashLoopBackOff":
        return {"terminated": {"exitCode": c["exit_code"], "reason": c["reason"],
                               "startedAt": _iso(c["started_at"]),
                               "finishedAt": _iso(c["finished_at"])}}
    return {"waiting": {"reason": c["reason"] or "ContainerCreating"}}


def describe(state: State, row, containers) -> str:
    doc = pod_object(row, containers)
    spec, status = doc["spec"], doc["status"]
    out = [f"Name:             {row['name']}",
           f"Namespace:        {row['namespace']}",
           f"UID:              {row['uid']}",
           f"Start Time:       {status['startTime'] or '<none>'}",
           f"Labels:           " + (", ".join(f"{k}={v}" for k, v in
                                                (doc['metadata'].get('labels') or {}).items())
                                     or "<none>"),
           f"Status:           {status_text(row, containers)} (phase {row['phase']})",
           f"IP:               {row['pod_ip'] or '<none>'}",
           f"Manifest:         {row['file']}",
           f"QoS Class:        {status['qosClass']}"]
    if row["message"]:
        out.append(f"Message:          {row['message']}")
    by_name = {c["name"]: c for c in containers}
    for group, title in (("initContainers", "Init Containers"), ("containers", "Containers")):
        if not spec.get(group):
            continue
        out.append(f"{title}:")
        for c in spec[group]:
            r = by_name[c["name"]]
            out.append(f"  {c['name']}:")
            out.append(f"    Container ID:  {r['container_id'] or '<none>'}")
            out.append(f"    Image:         {c['image']} (pull policy {c.get('imagePullPolicy')})")
            for p in c.get("ports") or []:
                host = f" -> host {p['hostPort']}" if p.get("hostPort") else ""
                out.append(f"    Port:          {p['containerPort']}/{p.get('protocol', 'TCP')}"
                           f"{host}")
            current = _state(r)
            kind = next(iter(current))
            detail = current[kind]
            out.append(f"    State:         {kind.capitalize()}"
                       + (f" ({detail.get('reason')}, exit code {detail.get('exitCode')})"
                          if kind == "terminated" else
                          f" ({detail.get('reason')})" if kind == "waiting" else
                          f" since {detail.get('startedAt')}"))
            if r["last_state"] and r["restarts"]:
                last = json.loads(r["last_state"])
                out.append(f"    Last State:    Terminated ({last['reason']}, exit code "
                           f"{last['exitCode']}, finished {_iso(last['finishedAt'])})")
            out.append(f"    Ready:         {bool(r['ready'])}")
            out.append(f"    Restart Count: {r['restarts']}")
            for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(kind):
                    out.append(f"    {kind[:-5].capitalize():<9}      {_probe_text(c[kind])}")
            for m in c.get("volumeMounts") or []:
                out.append(f"    Mount:         {m['mountPath']} from {m['name']}"
                           + (f" (subPath {m['subPath']})" if m.get("subPath") else "")
                           + (" (ro)" if m.get("readOnly") else " (rw)"))
    if spec.get("volumes"):
        out.append("Volumes:")
        for v in spec["volumes"]:
            kind = next(k for k in v if k != "name")
            out.append(f"  {v['name']}: {kind} {json.dumps(v[kind] or {})}")
    out.append("Conditions:")
    out.extend(f"  {c['type']:<16} {c['status']}" for c in status["conditions"])
    out.append("Events:")
    events = state.events(row["key"])
    if not events:
        out.append("  <none>")
    else:
        out.append(f"  {'Type':<8} {'Reason':<24} {'Age':<10} {'From':<10} Message")
        now = time.time()
        for e in events:
            when = age(e["time"], now) + (f" (x{e['count']})" if e["count"] > 1 else "")
            obj = f"{e['object']}: " if e["object"] else ""
            out.append(f"  {e['type']:<8} {e['reason']:<24} {when:<10} {'hull':<10} "
                       f"{obj}{e['message']}")
    return "\n".join(out)


def _probe_text(probe: dict) -> str:
    if probe.get("exec"):
        what = f"exec {probe['exec']['command']}"
    elif probe.get("httpGet"):
        g = probe["httpGet"]
        what = f"http-get :{g['port']}{g.get('path', '/')}"
    else:
        what = f"tcp-socket :{probe['tcpSocket']['port']}"
    return (f"{what} delay={probe.get('initialDelaySeconds', 0)}s "
            f"timeout={probe.get('timeoutSeconds', 1)}s period={probe.get('periodSeconds', 10)}s"
            f" #success={probe.get('successThreshold', 1)} "
            f"#failure={probe.get('failureThreshold', 3)}")
