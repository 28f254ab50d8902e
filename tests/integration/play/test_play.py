"""hull play end to end: real hulld, hull-csi, agent, CNI and containers."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import pytest

from hull._generated import api_pb2 as api
from hull.play.daemons import Cri, Endpoints

pytestmark = pytest.mark.root

WEB = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: hull-play-test-content}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: page
    image: IMAGE
    command: [sh, -c, "mkdir -p /c/www; echo hello-from-pvc > /c/www/index.html"]
    volumeMounts: [{name: content, mountPath: /c}]
  containers:
  - name: httpd
    image: IMAGE
    command: [httpd, -f, -p, "80", -h, /www]
    ports: [{name: http, containerPort: 80, hostPort: PORT}]
    volumeMounts: [{name: content, mountPath: /www, subPath: www, readOnly: true}]
    livenessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
  volumes:
  - {name: content, persistentVolumeClaim: {claimName: hull-play-test-content}}
"""


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as resp:
        return resp.read().decode()


def container_pid(env, container_id: str) -> int:
    cri = Cri(Endpoints.for_root(env.root).socket)
    try:
        info = cri.runtime.ContainerStatus(api.ContainerStatusRequest(
            container_id=container_id, verbose=True), timeout=30).info["info"]
        return json.loads(info)["pid"]
    finally:
        cri.close()


def test_web_pod_host_port_restart_and_down(play_env, played, free_port):
    path = play_env.manifest("web.yaml", WEB.replace("PORT", str(free_port)))
    played.append(path)
    out = play_env.hull("play", path, "--wait", "--timeout", "60")
    assert "pod/web ready" in out.stdout
    assert "persistentvolumeclaim/hull-play-test-content created" in out.stdout
    assert fetch(free_port).strip() == "hello-from-pvc"

    table = play_env.hull("get", "pods").stdout.splitlines()
    assert table[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["web", "1/1", "Running", "0"]

    status = play_env.pod("web")["status"]["containerStatuses"][0]
    os.kill(container_pid(play_env, status["containerID"].split("://")[1]), signal.SIGKILL)
    restarted = play_env.wait_for(
        lambda: (s := play_env.pod("web")["status"]["containerStatuses"][0])["restartCount"] == 1
        and s["ready"] and s, "the restart")
    assert restarted["lastState"]["terminated"]["exitCode"] == 137
    assert play_env.wait_for(lambda: _try_fetch(free_port), "the page after the restart") \
        .strip() == "hello-from-pvc"
    events = play_env.hull("describe", "pod", "web").stdout
    assert "Restart Count: 1" in events and "exited with code 137" in events

    play_env.hull("down", path)
    assert play_env.pods() == []
    assert play_env.mounts_under_root() == [] or all(
        "/csi/" in m for m in play_env.mounts_under_root())  # only the driver's own
    assert not os.listdir(os.path.join(play_env.root, "play", "pods"))
    with pytest.raises(OSError):
        fetch(free_port)


def _try_fetch(port: int):
    try:
        return fetch(port)
    except OSError:
        return None


PVC = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: hull-play-test-keep}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: IMAGE
    command: [sh, -c, "test -f /data/first || cat /proc/sys/kernel/random/uuid > /data/first; cat /data/first"]
    volumeMounts: [{name: d, mountPath: /data}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: hull-play-test-keep}}]
"""


def test_claim_keeps_its_data_across_down_and_play(play_env, played):
    path = play_env.manifest("pvc.yaml", PVC)
    played.append(path)
    play_env.hull("play", path, "--wait")
    first = play_env.hull("logs", "keeper").stdout.strip()
    assert len(first) == 36
    play_env.hull("down", path)
    out = play_env.hull("play", path, "--wait")
    assert "bound to its existing volume" in out.stdout
    assert play_env.hull("logs", "keeper").stdout.strip() == first
    play_env.hull("down", "--volumes", path)
    play_env.hull("play", path, "--wait")
    assert play_env.hull("logs", "keeper").stdout.strip() != first   # a fresh volume


CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {COLOR: blue, settings.ini: "a=1"}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {password: aHVudGVyMg==}
---
apiVersion: v1
kind: Pod
metadata: {name: steps, namespace: hull-play-test}
spec:
  restartPolicy: Never
  initContainers:
  - {name: one, image: IMAGE, command: [sh, -c, "sleep 0.3; echo one >> /w/order"],
     volumeMounts: [{name: w, mountPath: /w}]}
  - {name: two, image: IMAGE, command: [sh, -c, "echo two >> /w/order"],
     volumeMounts: [{name: w, mountPath: /w}]}
  containers:
  - name: main
    image: IMAGE
    command: [sh, -c]
    args: ["cat /w/order; echo color=$COLOR pw=$PW name=$NAME ns=$NS ip=$IP cfg=$CFG_COLOR; cat /etc/cfg/settings.ini; echo; cat /etc/sec/password; echo; grep -c ' /w tmpfs ' /proc/mounts"]
    env:
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: cfg, key: COLOR}}}
    - {name: PW, valueFrom: {secretKeyRef: {name: sec, key: password}}}
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    envFrom: [{configMapRef: {name: cfg}, prefix: CFG_}]
    volumeMounts:
    - {name: w, mountPath: /w}
    - {name: cfg, mountPath: /etc/cfg}
    - {name: sec, mountPath: /etc/sec}
  volumes:
  - {name: w, emptyDir: {medium: Memory}}
  - {name: cfg, configMap: {name: cfg}}
  - {name: sec, secret: {secretName: sec}}
"""


def test_init_order_env_and_config_volumes(play_env, played):
    text = CONFIG.replace("metadata: {name: cfg}", "metadata: {name: cfg, namespace: hull-play-test}") \
        .replace("metadata: {name: sec}", "metadata: {name: sec, namespace: hull-play-test}")
    path = play_env.manifest("config.yaml", text)
    played.append(path)
    play_env.hull("play", path, "--wait")

    def finished() -> dict | None:
        # --wait returns once the pod is Ready, which main is for the moment it runs
        pod = json.loads(play_env.hull("get", "pods", "steps", "-n", "hull-play-test", "-o",
                                       "json").stdout)
        return pod if pod["status"]["phase"] in ("Succeeded", "Failed") else None
    pod = play_env.wait_for(finished, "pod steps to finish")
    assert pod["status"]["phase"] == "Succeeded"
    ip = pod["status"]["podIP"]
    assert ip.startswith("10.89.")
    lines = play_env.hull("logs", "steps", "-n", "hull-play-test").stdout.splitlines()
    assert lines[:2] == ["one", "two"]
    assert lines[2] == f"color=blue pw=hunter2 name=steps ns=hull-play-test ip={ip} cfg=blue"
    assert lines[3:6] == ["a=1", "hunter2", "1"]   # files; the Memory emptyDir is a tmpfs
    inits = [c["name"] for c in pod["status"]["initContainerStatuses"]]
    assert inits == ["one", "two"]
    assert all(c["state"]["terminated"]["exitCode"] == 0
               for c in pod["status"]["initContainerStatuses"])


CRASH = """
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  restartPolicy: Always
  containers:
  - {name: c, image: IMAGE, command: [sh, -c, "echo run $(date +%s%N); exit 3"]}
"""


def test_restarts_counted_with_back_off_and_previous_logs(play_env, played):
    path = play_env.manifest("crash.yaml", CRASH)
    played.append(path)
    play_env.hull("play", path)
    status = play_env.wait_for(
        lambda: (s := play_env.pod("crasher")["status"]["containerStatuses"][0])
        ["restartCount"] >= 3 and s, "three restarts")
    assert status["lastState"]["terminated"]["exitCode"] == 3
    previous = play_env.hull("logs", "crasher", "--previous").stdout
    assert previous.startswith("run ")
    described = play_env.hull("describe", "pod", "crasher").stdout
    assert "BackOff" in described and "Back-off" in described


PROBES = """
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: IMAGE
    command: [sh, -c, "trap 'exit 0' TERM; sleep 1.5; touch /tmp/ready; while true; do sleep 0.1; done"]
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}
    livenessProbe: {exec: {command: [sh, -c, "test ! -f /tmp/sick"]}, periodSeconds: 1, failureThreshold: 2}
"""


def test_readiness_then_liveness_failure_restarts(play_env, played):
    path = play_env.manifest("probes.yaml", PROBES)
    played.append(path)
    play_env.hull("play", path)
    first = play_env.pod("probed")["status"]["containerStatuses"][0]
    assert first["ready"] is False            # readiness has not passed yet
    play_env.wait_for(lambda: play_env.pod("probed")["status"]["containerStatuses"][0]["ready"],
                      "readiness")
    play_env.hull("exec", "probed", "--", "touch", "/tmp/sick")
    restarted = play_env.wait_for(
        lambda: (s := play_env.pod("probed")["status"]["containerStatuses"][0])
        ["restartCount"] >= 1 and s, "the liveness restart")
    assert restarted["restartCount"] >= 1
    described = play_env.hull("describe", "pod", "probed").stdout
    assert "Liveness probe failed" in described
    assert "failed liveness probe, will be restarted" in described
    assert "Readiness probe failed" in described


def test_exec_exit_code_and_output(play_env, played):
    path = play_env.manifest("sleeper.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  terminationGracePeriodSeconds: 0
  hostname: napper
  containers: [{name: c, image: IMAGE, command: [sleep, "1000"], workingDir: /tmp,
                resources: {limits: {memory: 48Mi, cpu: 250m}}}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait")
    out = play_env.hull("exec", "sleeper", "--", "sh", "-c", "hostname; pwd; exit 4",
                        check=False)
    assert out.returncode == 4
    assert out.stdout.split() == ["napper", "/tmp"]
    # resources reached the container's cgroups (v1 here): read them from the host
    status = play_env.pod("sleeper")["status"]["containerStatuses"][0]
    pid = container_pid(play_env, status["containerID"].split("://")[1])
    paths = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                paths[controller] = path
    memory = f"/sys/fs/cgroup/memory{paths['memory']}/memory.limit_in_bytes"
    with open(memory) as f:
        assert int(f.read()) == 48 << 20
    cpu = f"/sys/fs/cgroup/cpu{paths['cpu']}"
    with open(f"{cpu}/cpu.cfs_quota_us") as f:
        assert int(f.read()) == 25000
    with open(f"{cpu}/cpu.shares") as f:
        assert int(f.read()) == 256      # request defaults to the limit: 250m -> 256 shares
    assert paths["memory"].startswith(play_env.cgroup)


def test_agent_restart_resumes_supervision(play_env, played):
    from hull.play import daemons
    path = play_env.manifest("survivor.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: survivor}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: IMAGE, command: [sleep, "1000"]}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait")
    ep = Endpoints.for_root(play_env.root)
    status = play_env.pod("survivor")["status"]["containerStatuses"][0]
    agent = daemons.agent_pid(ep)
    assert agent
    os.kill(agent, signal.SIGKILL)
    play_env.wait_for(lambda: daemons.agent_pid(ep) is None, "the agent to die")
    os.kill(container_pid(play_env, status["containerID"].split("://")[1]), signal.SIGKILL)
    out = play_env.hull("get", "pods")      # notices the missing agent and starts it again
    assert "starting it again" in out.stderr
    new_agent = daemons.agent_pid(ep)
    assert new_agent and new_agent != agent
    restarted = play_env.wait_for(
        lambda: (s := play_env.pod("survivor")["status"]["containerStatuses"][0])
        ["restartCount"] == 1 and s["ready"] and s, "the restart by the new agent")
    assert restarted["lastState"]["terminated"]["exitCode"] == 137


def test_exec_interactive_through_the_streaming_url(play_env, played):
    import shlex
    import subprocess
    path = play_env.manifest("interactive.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: IMAGE, command: [sleep, "1000"]}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait")
    from tests.integration.play.conftest import HULL
    piped = subprocess.run([HULL, "--root", play_env.root, "exec", "-i", "chatty", "--", "sh",
                            "-c", "cat; exit 6"], input="through stdin\n", capture_output=True,
                           text=True, env=play_env.env, timeout=60)
    assert (piped.returncode, piped.stdout) == (6, "through stdin\n")
    command = " ".join(shlex.quote(a) for a in [HULL, "--root", play_env.root, "exec", "-it",
                                                "chatty", "--", "sh", "-c", "tty; exit 3"])
    tty = subprocess.run(["script", "-eqc", command, "/dev/null"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, env=play_env.env, timeout=60)
    assert tty.returncode == 3
    assert "/dev/pts/" in tty.stdout


def test_host_network_pod_sees_the_host(play_env, played):
    path = play_env.manifest("hostnet.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  restartPolicy: Never
  containers: [{name: c, image: IMAGE, command: [sh, -c, "hostname; ls /sys/class/net"]}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait")
    lines = play_env.hull("logs", "hostnet").stdout.split()
    assert lines[0] == os.uname().nodename
    host_links = set(os.listdir("/sys/class/net"))
    # links come and go as other tests run; most of the host's must be visible
    assert len(host_links & set(lines[1:])) >= max(1, len(host_links) // 2)
    wide = play_env.hull("get", "pods", "hostnet", "-o", "wide").stdout.splitlines()[1].split()
    assert wide[5] == "host"


def test_startup_probe_holds_back_liveness(play_env, played):
    path = play_env.manifest("startup.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: slowstart}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: IMAGE
    command: [sh, -c, "sleep 1.5; touch /tmp/started; exec sleep 1000"]
    startupProbe: {exec: {command: [test, -f, /tmp/started]}, periodSeconds: 1, failureThreshold: 10}
    livenessProbe: {exec: {command: [test, -f, /tmp/started]}, periodSeconds: 1, failureThreshold: 1}
""")
    played.append(path)
    play_env.hull("play", path, "--wait", "--timeout", "30")
    status = play_env.pod("slowstart")["status"]["containerStatuses"][0]
    assert status["ready"] and status["restartCount"] == 0
    described = play_env.hull("describe", "pod", "slowstart").stdout
    assert "Startup probe failed" in described          # it did fail before the file existed
    assert "Liveness probe failed" not in described     # and liveness waited for it


def test_failed_init_container_retried_on_failure_policy(play_env, played):
    path = play_env.manifest("retry.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: retry}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 0
  initContainers:
  - {name: flaky, image: IMAGE, command: [sh, -c, "test -f /w/tried && exit 0; touch /w/tried; exit 1"],
     volumeMounts: [{name: w, mountPath: /w}]}
  containers:
  - {name: c, image: IMAGE, command: [sleep, "1000"]}
  volumes: [{name: w, emptyDir: {}}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait", "--timeout", "30")
    pod = play_env.pod("retry")
    init = pod["status"]["initContainerStatuses"][0]
    assert init["restartCount"] == 1
    assert init["state"]["terminated"]["exitCode"] == 0
    assert pod["status"]["containerStatuses"][0]["ready"]


def test_host_path_volume_shared_with_the_host(play_env, played):
    shared = os.path.join(play_env.root, "shared-dir")
    path = play_env.manifest("hostpath.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: hostpath}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: IMAGE
    command: [sh, -c, "echo from-pod > /host/out; touch /ro/x 2>/dev/null && echo writable || echo read-only"]
    volumeMounts:
    - {{name: h, mountPath: /host}}
    - {{name: h, mountPath: /ro, readOnly: true}}
  volumes: [{{name: h, hostPath: {{path: {shared}, type: DirectoryOrCreate}}}}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait")
    with open(os.path.join(shared, "out")) as f:
        assert f.read() == "from-pod\n"
    assert play_env.hull("logs", "hostpath").stdout.strip() == "read-only"
    play_env.hull("down", path)
    assert os.path.exists(os.path.join(shared, "out"))   # host data is the host's


def test_lifecycle_hooks(play_env, played):
    shared = os.path.join(play_env.root, "hooks-dir")
    path = play_env.manifest("hooks.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: hooks}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: IMAGE
    command: [sleep, "1000"]
    lifecycle:
      postStart: {{exec: {{command: [sh, -c, "echo post > /h/post"]}}}}
      preStop: {{exec: {{command: [sh, -c, "echo pre > /h/pre"]}}}}
    volumeMounts: [{{name: h, mountPath: /h}}]
  volumes: [{{name: h, hostPath: {{path: {shared}, type: DirectoryOrCreate}}}}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait")
    with open(os.path.join(shared, "post")) as f:
        assert f.read() == "post\n"
    assert not os.path.exists(os.path.join(shared, "pre"))
    play_env.hull("down", path)
    with open(os.path.join(shared, "pre")) as f:
        assert f.read() == "pre\n"


def test_hulld_restart_keeps_pods_supervised(play_env, played):
    from hull.play import daemons
    path = play_env.manifest("outlive.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: outlive}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: IMAGE, command: [sleep, "1000"]}]
""")
    played.append(path)
    play_env.hull("play", path, "--wait")
    status = play_env.pod("outlive")["status"]["containerStatuses"][0]
    pid = container_pid(play_env, status["containerID"].split("://")[1])
    ep = Endpoints.for_root(play_env.root)
    assert daemons.stop_daemon(ep, "hulld")
    assert os.path.exists(f"/proc/{pid}")            # containers outlive the runtime
    other = play_env.manifest("outlive2.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: outlive2}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: IMAGE, command: [sleep, "1000"]}]
""")
    played.append(other)
    out = play_env.hull("play", other, "--wait")
    assert "hulld is not running: starting it" in out.stderr
    os.kill(pid, signal.SIGKILL)
    restarted = play_env.wait_for(
        lambda: (s := play_env.pod("outlive")["status"]["containerStatuses"][0])
        ["restartCount"] == 1 and s["ready"] and s, "the restart after hulld came back")
    assert restarted["lastState"]["terminated"]["exitCode"] == 137
