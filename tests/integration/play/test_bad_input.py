"""Bad input: a clear message naming the object and field, non-zero exit, nothing left started."""

from __future__ import annotations

import json
import os
import socket

import pytest

from hull._generated import api_pb2 as api
from hull._generated import csi_pb2 as csi
from hull.play.daemons import Cri, Csi, Endpoints

pytestmark = pytest.mark.root

POD = """
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: IMAGE, command: [sleep, "1000"]EXTRA}
"""


def pod(name: str, extra: str = "") -> str:
    return POD.replace("NAME", name).replace("EXTRA", extra)


def assert_nothing_running(env) -> None:
    assert env.pods() == []
    ep = Endpoints.for_root(env.root)
    if os.path.exists(ep.socket):
        cri = Cri(ep.socket)
        try:
            assert list(cri.runtime.ListPodSandbox(api.ListPodSandboxRequest(),
                                                   timeout=10).items) == []
            assert list(cri.runtime.ListContainers(api.ListContainersRequest(),
                                                   timeout=10).containers) == []
        finally:
            cri.close()
    pods_dir = os.path.join(env.root, "play", "pods")
    assert not os.path.isdir(pods_dir) or os.listdir(pods_dir) == []


def test_malformed_yaml(play_env):
    path = play_env.manifest("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    out = play_env.hull("play", path, check=False)
    assert out.returncode == 2
    assert "cannot parse manifest" in out.stderr and "line 4" in out.stderr
    assert_nothing_running(play_env)


def test_invalid_field_names_object_and_path(play_env):
    path = play_env.manifest("bad-port.yaml", pod("hull-play-test-port", ", ports: [{containerPort: 80, hostPort: 70000}]"))
    out = play_env.hull("play", path, check=False)
    assert out.returncode == 2
    assert 'The Pod "hull-play-test-port" is invalid' in out.stderr
    assert "spec.containers[0].ports[0].hostPort: Invalid value: 70000" in out.stderr
    assert_nothing_running(play_env)


def test_unknown_field_and_kind_warned_but_played(play_env, played):
    text = pod("hull-play-test-warn", ", imagee: typo") + \
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\n"
    path = play_env.manifest("warn.yaml", text)
    played.append(path)
    out = play_env.hull("play", path)
    assert 'unknown field "spec.containers[0].imagee"' in out.stderr
    assert "skipping Service 'svc'" in out.stderr
    assert "pod/hull-play-test-warn started" in out.stdout
    play_env.hull("down", path)
    assert_nothing_running(play_env)


def test_missing_image(play_env):
    # the registry is loopback port 1 (refused at once): no name lookup leaves the machine
    text = pod("hull-play-test-img").replace("image: IMAGE",
                                             "image: 127.0.0.1:1/hull-play-test/absent:1")
    path = play_env.manifest("noimage.yaml", text)
    out = play_env.hull("play", path, check=False)
    assert out.returncode == 3
    assert 'Pod "hull-play-test-img"' in out.stderr
    assert 'spec.containers[0].image: cannot pull image "127.0.0.1:1/hull-play-test/absent:1"' in out.stderr
    assert_nothing_running(play_env)


def test_never_pull_policy_without_image(play_env):
    text = pod("hull-play-test-never", ", imagePullPolicy: Never").replace(
        "image: IMAGE", "image: 127.0.0.1:1/hull-play-test/absent:1")
    out = play_env.hull("play", play_env.manifest("never.yaml", text), check=False)
    assert out.returncode == 3 and "ErrImageNeverPull" in out.stderr


def test_claim_that_cannot_be_satisfied(play_env):
    text = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: hull-play-test-huge}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Pi}}}
""" + "---" + pod("hull-play-test-huge-user").rstrip() + \
        "\n  volumes: [{name: d, persistentVolumeClaim: {claimName: hull-play-test-huge}}]\n"
    out = play_env.hull("play", play_env.manifest("huge.yaml", text), check=False)
    assert out.returncode != 0
    assert 'PersistentVolumeClaim "hull-play-test-huge"' in out.stderr
    assert "spec.resources.requests[storage]" in out.stderr
    assert_nothing_running(play_env)
    client = Csi(Endpoints.for_root(play_env.root).csi_socket)
    try:
        names = [e.volume.volume_context.get("name", e.volume.volume_id) for e in
                 client.controller.ListVolumes(csi.ListVolumesRequest(), timeout=10).entries]
        assert not any("huge" in n for n in names)
    finally:
        client.close()


def test_claim_not_defined(play_env):
    text = pod("hull-play-test-noclaim").rstrip() + \
        "\n  volumes: [{name: d, persistentVolumeClaim: {claimName: nowhere}}]\n"
    out = play_env.hull("play", play_env.manifest("noclaim.yaml", text), check=False)
    assert out.returncode == 3
    assert "spec.volumes[0].persistentVolumeClaim.claimName: Not found" in out.stderr


def test_missing_config_map_key(play_env):
    text = pod("hull-play-test-cm", ", env: [{name: A, valueFrom: {configMapKeyRef: "
               "{name: absent, key: k}}}]")
    out = play_env.hull("play", play_env.manifest("nocm.yaml", text), check=False)
    assert out.returncode == 3
    assert 'Pod "hull-play-test-cm"' in out.stderr
    assert "spec.containers[0].env[0].valueFrom.configMapKeyRef: Not found" in out.stderr


def test_host_port_already_taken(play_env, free_port):
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("0.0.0.0", free_port))
        holder.listen()
        text = pod("hull-play-test-taken", f", ports: [{{containerPort: 80, hostPort: {free_port}}}]")
        out = play_env.hull("play", play_env.manifest("taken.yaml", text), check=False)
    assert out.returncode == 5
    assert f'Pod "hull-play-test-taken"' in out.stderr
    assert f"spec.containers[0].ports[0].hostPort: Invalid value: {free_port}: port " \
           f"{free_port}/TCP is already in use" in out.stderr
    assert_nothing_running(play_env)


def test_failure_mid_file_undoes_everything(play_env):
    """The second pod cannot start: the first pod, the claim and the objects go away again."""
    text = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: hull-play-test-undo}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: hull-play-test-undo}
data: {a: b}
---""" + pod("hull-play-test-good").rstrip() + \
        "\n  volumes: [{name: d, persistentVolumeClaim: {claimName: hull-play-test-undo}}]\n" + \
        "---" + pod("hull-play-test-bad").rstrip() + \
        "\n  volumes: [{name: h, hostPath: {path: /nonexistent/hull-play-test, type: Directory}}]\n"
    out = play_env.hull("play", play_env.manifest("undo.yaml", text), check=False)
    assert out.returncode != 0
    assert "hull-play-test-bad" in out.stderr and "spec.volumes[0].hostPath.path" in out.stderr
    assert_nothing_running(play_env)
    from hull.play.state import State
    state = State(play_env.root)
    try:
        assert state.object("PersistentVolumeClaim", "default/hull-play-test-undo") is None
        assert state.object("ConfigMap", "default/hull-play-test-undo") is None
    finally:
        state.close()


def test_same_pod_twice(play_env, played):
    path = play_env.manifest("twice.yaml", pod("hull-play-test-twice"))
    played.append(path)
    play_env.hull("play", path)
    out = play_env.hull("play", path, check=False)
    assert out.returncode == 4 and 'pods "hull-play-test-twice" already exists' in out.stderr
    play_env.hull("down", path)
    assert_nothing_running(play_env)


def test_command_that_cannot_run(play_env):
    text = pod("hull-play-test-noexec").replace("command: [sleep, \"1000\"]",
                                                "command: [/no/such/binary]")
    out = play_env.hull("play", play_env.manifest("noexec.yaml", text), "--wait", check=False)
    assert out.returncode == 5
    assert "container c cannot run: spec.containers[0] (c)" in out.stderr
    assert "/no/such/binary" in out.stderr
    assert_nothing_running(play_env)
