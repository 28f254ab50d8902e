"""One pod's life, driven by the agent: kubelet's pod worker in miniature.

Each call to ``PodWorker.sync`` looks at the pod's row and its containers
in CRI and takes the next step: make volumes and the sandbox, run init
containers one at a time to completion, start the app containers, notice
exits and restart them by restartPolicy with back-off, run probes, and on
``desired = deleted`` stop everything (terminationGracePeriodSeconds) and
remove it. All progress is written to the state database, so a restarted
agent continues where the last one stopped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time

import grpc

from hull import errors
from hull._generated import api_pb2 as api
from hull.play import hooks, probes, translate, volumes
from hull.play.backoff import Backoff
from hull.play.model import Pod
from hull.play.state import Paths, State

log = logging.getLogger(__name__)

RUNNING, TERMINATED, WAITING = "running", "terminated", "waiting"


class PodWorker:
    def __init__(self, key: str, state: State, cri, csi_factory, backoff: Backoff):
        self.key = key
        self.state = state
        self.cri = cri
        self.csi_factory = csi_factory
        self.backoff = backoff
        self.paths = Paths(state.root)
        self.probers: dict[tuple[str, str], probes.Prober] = {}
        self.next_wake = 0.0

    # entry point

    def sync(self) -> bool:
        """One step; False when the pod is gone (deleted) and the worker should end."""
        row = self.state.pod(self.key)
        if row is None:
            return False
        pod = Pod.from_dict(json.loads(row["doc"]))
        self.next_wake = time.time() + 1.0
        if row["desired"] == "deleted":
            self.teardown(row, pod)
            self.state.delete_pod(self.key)
            return False
        if row["phase"] in ("Succeeded", "Failed"):
            return True  # terminal, as in kubelet: nothing restarts; waits for `hull down`
        if not row["sandbox_id"] or not self._sandbox_ready(row["sandbox_id"]):
            if not self.start_sandbox(row, pod):
                return True
            row = self.state.pod(self.key)
        self.sync_containers(row, pod)
        return True

    # sandbox

    def _sandbox_ready(self, sandbox_id: str) -> bool:
        try:
            status = self.cri.runtime.PodSandboxStatus(
                api.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id), timeout=30).status
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return status.state == api.SANDBOX_READY

    def context(self, row, pod: Pod) -> translate.PodContext:
        config_maps, secrets = self.state.config_objects(pod.namespace)
        return translate.PodContext(
            pod=pod, uid=row["uid"],
            log_directory=self.paths.log_dir(pod.namespace, pod.name, row["uid"]),
            config_maps=config_maps, secrets=secrets, pod_ip=row["pod_ip"],
            attempt=row["attempt"])

    def _claims(self, namespace: str) -> dict[str, dict]:
        return self.state.namespace_objects("PersistentVolumeClaim", namespace)

    def _csi(self, pod: Pod):
        if any(v.get("persistentVolumeClaim") is not None for v in pod.spec.get("volumes") or []):
            return self.csi_factory()
        return None

    def start_sandbox(self, row, pod: Pod) -> bool:
        """Volumes, then RunPodSandbox; a failure marks the pod Failed with the reason."""
        if row["sandbox_id"]:  # it vanished (host reboot, hulld state lost): start over
            self.event("Warning", "SandboxChanged", "",
                       "Pod sandbox changed, it will be killed and re-created.")
            self._remove_sandbox(row["sandbox_id"])
            for c in self.state.containers(self.key):
                self.state.update_container(self.key, c["name"], container_id="", state=WAITING,
                                            reason="ContainerCreating", ready=0, started=0)
            self.state.update_pod(self.key, attempt=row["attempt"] + 1, sandbox_id="")
            row = self.state.pod(self.key)
        ctx = self.context(row, pod)
        try:
            volumes.prepare(pod, row["uid"], self.paths, ctx.config_maps, ctx.secrets,
                                       self._claims(pod.namespace), self._csi(pod))
            os.makedirs(ctx.log_directory, exist_ok=True)
            config = translate.sandbox_config(ctx)
            sandbox_id = self.cri.runtime.RunPodSandbox(
                api.RunPodSandboxRequest(config=config,
                                         runtime_handler=pod.spec.get("runtimeClassName", "")),
                timeout=120).pod_sandbox_id
        except (errors.HullError, grpc.RpcError, OSError) as e:
            if _transient(e):   # hulld or hull-csi restarting: try again next tick
                log.warning("pod %s: cannot create the sandbox yet: %s", self.key, _message(e))
                return False
            message = _message(e)
            self.event("Warning", "FailedCreatePodSandBox", "", message)
            self.state.update_pod(self.key, phase="Failed", reason="FailedCreatePodSandBox",
                                  message=message)
            return False
        status = self.cri.runtime.PodSandboxStatus(
            api.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id), timeout=30).status
        self.state.update_pod(self.key, sandbox_id=sandbox_id, pod_ip=status.network.ip,
                              started=time.time())
        self.next_wake = time.time()   # containers next, without waiting a tick
        self.event("Normal", "SandboxReady", "",
                   f"pod sandbox {sandbox_id[:12]} ready, IP {status.network.ip or 'host'}")
        return True

    def _remove_sandbox(self, sandbox_id: str) -> None:
        for call, request in ((self.cri.runtime.StopPodSandbox, api.StopPodSandboxRequest),
                              (self.cri.runtime.RemovePodSandbox, api.RemovePodSandboxRequest)):
            try:
                call(request(pod_sandbox_id=sandbox_id), timeout=120)
            except grpc.RpcError as e:
                log.warning("pod %s: cannot clean sandbox %s: %s", self.key, sandbox_id,
                            e.details())

    # containers

    def sync_containers(self, row, pod: Pod) -> None:
        rows = {c["name"]: c for c in self.state.containers(self.key)}
        for c in rows.values():
            if c["container_id"] and c["state"] != TERMINATED:
                self._observe(row, pod, c)
        rows = {c["name"]: c for c in self.state.containers(self.key)}
        inits = pod.init_containers()
        for i, spec in enumerate(inits):
            c = rows[spec["name"]]
            if c["state"] == TERMINATED and c["exit_code"] == 0:
                continue
            if c["state"] == RUNNING:
                self._set_phase(pod, rows)
                return
            if c["state"] == TERMINATED and pod.spec["restartPolicy"] == "Never":
                self._set_phase(pod, rows)
                return
            self._maybe_start(row, pod, spec, c, f"spec.initContainers[{i}]")
            self._set_phase(pod, self._rows())
            return
        for i, spec in enumerate(pod.containers()):
            c = rows[spec["name"]]
            path = f"spec.containers[{i}]"
            if c["state"] == RUNNING:
                self._probe(row, pod, spec, c)
            elif c["state"] == WAITING or self._should_restart(pod, c):
                self._maybe_start(row, pod, spec, c, path)
        self._set_phase(pod, self._rows())

    def _row(self, name: str):
        return self._rows()[name]

    def _rows(self) -> dict:
        return {c["name"]: c for c in self.state.containers(self.key)}

    def _should_restart(self, pod: Pod, c) -> bool:
        policy = pod.spec["restartPolicy"]
        return policy == "Always" or (policy == "OnFailure" and c["exit_code"] != 0)

    def _observe(self, row, pod: Pod, c) -> None:
        try:
            status = self.cri.runtime.ContainerStatus(
                api.ContainerStatusRequest(container_id=c["container_id"]), timeout=30).status
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                raise
            status = api.ContainerStatus(state=api.CONTAINER_EXITED, exit_code=255,
                                         reason="ContainerGone",
                                         finished_at=time.time_ns())
        if status.state == api.CONTAINER_RUNNING and c["state"] != RUNNING:
            self.state.update_container(self.key, c["name"], state=RUNNING, reason="",
                                        started_at=status.started_at / 1e9)
        elif status.state == api.CONTAINER_EXITED:
            self._exited(pod, c, status)

    def _exited(self, pod: Pod, c, status) -> None:
        started = status.started_at / 1e9 if status.started_at else c["started_at"]
        finished = status.finished_at / 1e9 if status.finished_at else time.time()
        reason = status.reason or ("Completed" if status.exit_code == 0 else "Error")
        crashes = self.backoff.crashes_after(c["backoff"], finished - (started or finished))
        if status.exit_code == 0 and c["init"]:
            crashes = 0
        self.state.update_container(
            self.key, c["name"], state=TERMINATED, exit_code=status.exit_code, reason=reason,
            finished_at=finished, ready=0, backoff=crashes,
            next_start=finished + self.backoff.delay(crashes),
            last_state=json.dumps({"exitCode": status.exit_code, "reason": reason,
                                   "startedAt": started, "finishedAt": finished}))
        for key in [k for k in self.probers if k[0] == c["name"]]:
            self.probers[key].reset()
        self.event("Normal" if status.exit_code == 0 else "Warning",
                   "Completed" if status.exit_code == 0 else "Died", c["name"],
                   f"container {c['name']} exited with code {status.exit_code} ({reason})")

    def _maybe_start(self, row, pod: Pod, spec: dict, c, path: str) -> None:
        now = time.time()
        if c["next_start"] > now:
            self.next_wake = min(self.next_wake, c["next_start"])
            if c["state"] == TERMINATED and c["reason"] != "CrashLoopBackOff":
                self.state.update_container(self.key, c["name"], reason="CrashLoopBackOff")
                self.event("Warning", "BackOff", c["name"],
                           f"Back-off {c['next_start'] - c['finished_at']:.0f}s restarting "
                           f"failed container {c['name']}")
            return
        restarts = c["restarts"] + (1 if c["container_id"] else 0)
        old = c["container_id"]
        try:
            self._ensure_image(spec, c["name"], pulled_at_play=not c["container_id"])
            ctx = self.context(self.state.pod(self.key), pod)
            ctx.volume_paths, ctx.read_only_volumes = self._volume_paths_for(row, pod)
            config = translate.container_config(ctx, spec, restarts, path)
            sandbox_config = translate.sandbox_config(ctx)
            cid = self.cri.runtime.CreateContainer(api.CreateContainerRequest(
                pod_sandbox_id=row["sandbox_id"], config=config, sandbox_config=sandbox_config),
                timeout=120).container_id
        except (errors.HullError, grpc.RpcError, OSError) as e:
            if _transient(e):
                log.warning("pod %s: cannot create %s yet: %s", self.key, c["name"], _message(e))
                return
            message = _message(e)
            self.event("Warning", "Failed", c["name"], f"Error: {message}")
            crashes = c["backoff"] + 1
            self.state.update_container(self.key, c["name"], state=WAITING,
                                        reason="CreateContainerError", backoff=crashes,
                                        next_start=now + max(1.0, self.backoff.delay(crashes)))
            self.state.update_pod(self.key, message=message)
            return
        self.event("Normal", "Created", c["name"], f"Created container {c['name']}")
        try:
            self.cri.runtime.StartContainer(api.StartContainerRequest(container_id=cid),
                                            timeout=120)
        except grpc.RpcError as e:   # the runtime could not run it (e.g. no such executable)
            self.event("Warning", "Failed", c["name"], f"Error: {_message(e)}")
            self.state.update_pod(self.key, message=f"{path} ({c['name']}): {_message(e)}")
        else:
            self._post_start(pod, spec, cid)
        self._forget_previous(c["previous_id"])
        self.state.update_container(self.key, c["name"], container_id=cid, previous_id=old,
                                    restarts=restarts, state=WAITING, reason="",
                                    started=0, ready=0)
        self.event("Normal", "Started", c["name"], f"Started container {c['name']}")
        self.next_wake = time.time()   # probes and readiness next, without waiting a tick
        self._observe(row, pod, self._row(c["name"]))

    def _ensure_image(self, spec: dict, name: str, pulled_at_play: bool) -> None:
        """imagePullPolicy at every start, as kubelet: `hull play` did the first one."""
        image, policy = spec["image"], spec.get("imagePullPolicy", "IfNotPresent")
        present = bool(self.cri.images.ImageStatus(api.ImageStatusRequest(
            image=api.ImageSpec(image=image)), timeout=30).image.id)
        if present and (policy != "Always" or pulled_at_play):
            return
        if not present and policy == "Never":
            raise errors.NotFound(f"ErrImageNeverPull: image {image} is not present and "
                                  f"imagePullPolicy is Never")
        try:
            self.cri.images.PullImage(api.PullImageRequest(image=api.ImageSpec(image=image)),
                                      timeout=600)
            self.event("Normal", "Pulled", name, f"Pulled image {image}")
        except grpc.RpcError as e:
            if not present:
                raise errors.NotFound(f"ErrImagePull: cannot pull {image}: {_message(e)}") from e
            self.event("Warning", "Failed", name, f"cannot pull {image} ({_message(e)}); "
                       f"using the local copy")

    def _post_start(self, pod: Pod, spec: dict, container_id: str) -> None:
        handler = (spec.get("lifecycle") or {}).get("postStart")
        if not handler:
            return
        row = self.state.pod(self.key)
        result = hooks.run(handler, spec, container_id, row["pod_ip"], self.cri.runtime, 30)
        if not result.ok:
            self.event("Warning", "FailedPostStartHook", spec["name"], result.detail)
            self._stop_container(container_id, 0)

    def _pre_stop(self, pod: Pod, name: str, container_id: str, grace: float) -> float:
        """Run the container's preStop hook; returns the grace period left for the stop."""
        spec = next((c for c in pod.containers() if c["name"] == name), None)
        handler = ((spec or {}).get("lifecycle") or {}).get("preStop")
        if not handler:
            return grace
        start = time.monotonic()
        row = self.state.pod(self.key)
        result = hooks.run(handler, spec, container_id, row["pod_ip"], self.cri.runtime, grace)
        if not result.ok:
            self.event("Warning", "FailedPreStopHook", name, result.detail)
        return max(0.0, grace - (time.monotonic() - start))

    def _forget_previous(self, container_id: str) -> None:
        """Remove the container before the previous one: kubelet keeps one dead instance."""
        if not container_id:
            return
        try:
            self.cri.runtime.RemoveContainer(api.RemoveContainerRequest(container_id=container_id),
                                             timeout=60)
        except grpc.RpcError as e:
            log.warning("pod %s: cannot remove old container %s: %s", self.key, container_id,
                        e.details())

    def _volume_paths_for(self, row, pod: Pod) -> tuple[dict[str, str], set[str]]:
        paths, read_only = {}, set()
        for v in pod.spec.get("volumes") or []:
            name = v["name"]
            paths[name] = v["hostPath"]["path"] if v.get("hostPath") is not None \
                else self.paths.volume_dir(row["uid"], name)
            if v.get("configMap") is not None or v.get("secret") is not None or \
                    (v.get("persistentVolumeClaim") or {}).get("readOnly"):
                read_only.add(name)
        return paths, read_only

    # probes

    def _prober(self, name: str, kind: str, spec: dict) -> probes.Prober | None:
        probe = spec.get(kind)
        if probe is None:
            return None
        key = (name, kind)
        if key not in self.probers:
            self.probers[key] = probes.Prober(kind, probe, spec)
        return self.probers[key]

    def _probe(self, row, pod: Pod, spec: dict, c) -> None:
        now = time.time()
        started_at = c["started_at"] or now
        startup = self._prober(c["name"], "startupProbe", spec)
        if startup is not None and not c["started"]:
            if self._run_probe(row, pod, spec, c, startup, started_at, now):
                return
            if startup.result != probes.SUCCESS:
                return
        if not c["started"]:
            self.state.update_container(self.key, c["name"], started=1)
        liveness = self._prober(c["name"], "livenessProbe", spec)
        if liveness is not None and self._run_probe(row, pod, spec, c, liveness, started_at, now):
            return
        readiness = self._prober(c["name"], "readinessProbe", spec)
        if readiness is None:
            ready = 1
        else:
            self._run_probe(row, pod, spec, c, readiness, started_at, now)
            ready = int(readiness.result == probes.SUCCESS)
        if ready != c["ready"]:
            self.state.update_container(self.key, c["name"], ready=ready)

    def _run_probe(self, row, pod, spec, c, prober: probes.Prober, started_at: float,
                   now: float) -> bool:
        """Run the probe if due; True when it killed the container."""
        if not prober.due(started_at, now):
            self.next_wake = min(self.next_wake, prober.next_due(started_at))
            return False
        result = probes.run(prober.probe, spec, c["container_id"], row["pod_ip"], self.cri.runtime)
        change = prober.record(result.ok)
        self.next_wake = min(self.next_wake, prober.next_due(started_at))
        label = {"livenessProbe": "Liveness", "readinessProbe": "Readiness",
                 "startupProbe": "Startup"}[prober.kind]
        if not result.ok:
            self.event("Warning", "Unhealthy", c["name"], f"{label} probe failed: {result.detail}")
        if change == probes.SUCCESS and prober.kind == "startupProbe":
            self.state.update_container(self.key, c["name"], started=1)
        if change == probes.FAILURE and prober.kind in ("livenessProbe", "startupProbe"):
            self.event("Normal", "Killing", c["name"],
                       f"Container {c['name']} failed {label.lower()} probe, will be restarted")
            grace = prober.probe.get("terminationGracePeriodSeconds",
                                     pod.spec.get("terminationGracePeriodSeconds", 30))
            grace = self._pre_stop(pod, c["name"], c["container_id"], grace)
            self._stop_container(c["container_id"], grace)
            self._observe(row, pod, self._row(c["name"]))
            return True
        return False

    def _stop_container(self, container_id: str, grace: float) -> None:
        try:
            self.cri.runtime.StopContainer(api.StopContainerRequest(container_id=container_id,
                                                                    timeout=int(grace)),
                                           timeout=grace + 60)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                log.warning("pod %s: cannot stop %s: %s", self.key, container_id, e.details())

    # phase (what `hull get pods` shows)

    def _set_phase(self, pod: Pod, rows: dict) -> None:
        phase, reason = pod_phase(pod, rows)
        ready = int(phase == "Running" and all(rows[c["name"]]["ready"]
                                                for c in pod.containers()))
        if phase in ("Succeeded", "Failed"):
            # kubelet stops a finished pod's sandbox: its IP and hostPorts go back
            sandbox_id = self.state.pod(self.key)["sandbox_id"]
            if sandbox_id:
                try:
                    self.cri.runtime.StopPodSandbox(
                        api.StopPodSandboxRequest(pod_sandbox_id=sandbox_id), timeout=120)
                except grpc.RpcError as e:
                    log.warning("pod %s: cannot stop the finished sandbox: %s", self.key,
                                _message(e))
            self.event("Normal", phase, "", f"pod {phase.lower()}; its sandbox is stopped")
        self.state.update_pod(self.key, phase=phase, reason=reason, ready=ready)

    # teardown

    def teardown(self, row, pod: Pod) -> None:
        grace = pod.spec.get("terminationGracePeriodSeconds", 30)
        if row["sandbox_id"]:
            running = [c for c in self.state.containers(self.key)
                       if c["container_id"] and c["state"] != TERMINATED]
            if running:
                self.event("Normal", "Killing", "", f"Stopping {len(running)} container(s), "
                           f"grace period {grace}s")
            _parallel([lambda cid=c["container_id"], name=c["name"]: self._stop_container(
                cid, self._pre_stop(pod, name, cid, grace)) for c in running])
            self._remove_sandbox(row["sandbox_id"])
        others = set()
        for other in self.state.pods():
            if other["key"] != self.key and other["sandbox_id"]:
                for v in (json.loads(other["doc"]).get("spec") or {}).get("volumes") or []:
                    claim = (self._claims(other["namespace"])
                             .get((v.get("persistentVolumeClaim") or {}).get("claimName")))
                    if claim:
                        others.add(claim["volume_id"])
        volumes.cleanup(pod, row["uid"], self.paths, self._claims(pod.namespace),
                        self._csi(pod), others)
        shutil.rmtree(self.paths.log_dir(pod.namespace, pod.name, row["uid"]),
                      ignore_errors=True)

    def event(self, kind: str, reason: str, container: str, message: str) -> None:
        obj = f"spec.containers{{{container}}}" if container else ""
        log.info("pod %s: %s %s: %s", self.key, reason, container, message)
        self.state.event(self.key, kind, reason, obj, message)


def pod_phase(pod: Pod, rows: dict) -> tuple[str, str]:
    """(phase, status column) from the container rows, as kubectl prints them."""
    inits = pod.init_containers()
    for i, spec in enumerate(inits):
        c = rows[spec["name"]]
        if c["state"] == TERMINATED and c["exit_code"] == 0:
            continue
        if c["state"] == TERMINATED and pod.spec["restartPolicy"] == "Never":
            return "Failed", "Init:Error"
        if c["reason"] == "CrashLoopBackOff":
            return "Pending", "Init:CrashLoopBackOff"
        if c["state"] == TERMINATED:
            return "Pending", "Init:Error"
        return "Pending", f"Init:{i}/{len(inits)}"
    mains = [rows[c["name"]] for c in pod.containers()]
    if all(c["state"] == TERMINATED for c in mains):
        policy = pod.spec["restartPolicy"]
        failed = any(c["exit_code"] != 0 for c in mains)
        if policy == "Never" or (policy == "OnFailure" and not failed):
            return ("Failed", "Error") if failed else ("Succeeded", "Completed")
    waiting = [c for c in mains if c["state"] != RUNNING]
    for c in waiting:
        if c["reason"] in ("CrashLoopBackOff", "CreateContainerError", "Error",
                           "OOMKilled", "ContainerCannotRun"):
            return ("Running" if any(m["state"] == RUNNING for m in mains) else "Pending",
                    c["reason"])
    if any(c["state"] == RUNNING for c in mains):
        return "Running", "Running"
    return "Pending", "PodInitializing" if inits else "ContainerCreating"


def _parallel(calls) -> None:
    import threading
    threads = [threading.Thread(target=call, daemon=True) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _transient(e: BaseException) -> bool:
    """A daemon that is not answering (restarting), not a problem with the pod."""
    if isinstance(e, grpc.RpcError):
        return e.code() == grpc.StatusCode.UNAVAILABLE
    return isinstance(e, errors.Unavailable)


def _message(e: BaseException) -> str:
    if isinstance(e, grpc.RpcError):
        return e.details() or e.code().name
    return str(e)
