"""SIGKILL hulld at any moment; the restarted daemon loses nothing and cleans half-made work."""

import os
import signal
import threading
import time

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.sys import mountinfo

pytestmark = pytest.mark.root


def _mounts_under(path: str) -> list[str]:
    return [m.mountpoint for m in mountinfo.entries() if m.mountpoint.startswith(path)]


def test_sigkill_keeps_running_containers_and_records_exits(pods, hulld):
    sid, cfg = pods.run()
    runner = pods.container(sid, cfg, ["sh", "-c", "sleep 1000"])
    quitter = pods.container(sid, cfg, ["sh", "-c", "sleep 1000"])
    pid = int(hulld.runtime_stub.ContainerStatus(api.ContainerStatusRequest(
        container_id=runner, verbose=True)).info["info"].split('"pid": ')[1].split(",")[0])
    hulld.stop(signal.SIGKILL)
    # while hulld is down, the quitter dies; only conmon sees it
    os.kill(_container_pid(hulld, quitter), signal.SIGKILL)
    time.sleep(0.5)
    hulld.start()
    pods.rt = hulld.runtime_stub
    assert os.path.exists(f"/proc/{pid}")
    assert pods.status(runner).state == api.CONTAINER_RUNNING
    st = pods.status(quitter)
    assert st.state == api.CONTAINER_EXITED and st.exit_code == 137 and st.finished_at > 0
    assert pods.exec(runner, "echo", "still-here").stdout == b"still-here\n"
    pods.rt.StopContainer(api.StopContainerRequest(container_id=runner, timeout=0))
    assert pods.status(runner).exit_code == 137


def _container_pid(hulld, cid: str) -> int:
    with open(os.path.join(hulld.state, "containers", cid, "pidfile")) as f:
        return int(f.read())


def test_half_made_records_are_cleaned_at_start(pods, hulld):
    from hull.cri.model import Container, ContainerState, Sandbox, SandboxState
    from hull.cri.store import Store

    sid, cfg = pods.run()
    hulld.stop(signal.SIGKILL)
    store = Store(os.path.join(hulld.root, "cri"))
    half_pod = Sandbox(id="f" * 64, name="half_pod", config=pods.config("half"),
                       state=SandboxState.CREATING)
    store.add_sandbox(half_pod)
    os.makedirs(os.path.join(hulld.state, "sandboxes", half_pod.id))
    half_ctr = Container(id="e" * 64, sandbox_id=sid, name=f"{sid}/half_0",
                         config=api.ContainerConfig(metadata=api.ContainerMetadata(name="half")),
                         state=ContainerState.CREATING)
    store.add_container(half_ctr)
    os.makedirs(os.path.join(hulld.state, "containers", half_ctr.id, "rootfs"))
    store.close()
    hulld.start()
    pods.rt = hulld.runtime_stub
    ids = [s.id for s in pods.rt.ListPodSandbox(api.ListPodSandboxRequest()).items]
    assert half_pod.id not in ids and sid in ids
    assert not os.path.exists(os.path.join(hulld.state, "sandboxes", half_pod.id))
    assert not os.path.exists(os.path.join(hulld.state, "containers", half_ctr.id))
    from tests.integration.cri.conftest import code_of

    assert code_of(pods.rt.ContainerStatus, api.ContainerStatusRequest(
        container_id=half_ctr.id)) == grpc.StatusCode.NOT_FOUND


def test_sigkill_during_run_pod_sandbox_leaves_ready_or_nothing(pods, hulld):
    cfg = pods.config("killed-mid-run", pid=api.POD)
    outcome = []

    def run():
        try:
            outcome.append(hulld.runtime_stub.RunPodSandbox(
                api.RunPodSandboxRequest(config=cfg), timeout=30).pod_sandbox_id)
        except grpc.RpcError as e:
            outcome.append(e.code())

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.06)
    hulld.stop(signal.SIGKILL)
    thread.join()
    hulld.start()
    pods.rt = hulld.runtime_stub
    items = [s for s in pods.rt.ListPodSandbox(api.ListPodSandboxRequest()).items
             if s.metadata.name == "killed-mid-run"]
    for sb in items:
        pods.made.append(sb.id)
        assert sb.state in (api.SANDBOX_READY, api.SANDBOX_NOTREADY)
    if not items:   # undone: nothing of it may stay mounted
        leftover = [m for m in _mounts_under(os.path.join(hulld.state, "sandboxes"))
                    if "killed" in m]
        assert not leftover
        # the name is free again
        pods.run(cfg)
