"""One real hulld for the area (temp root/state/socket, test CNI network), cleaned up after."""

from __future__ import annotations

import os
import uuid

import grpc
import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri.kit import IMAGE, Hulld, build_busybox_image

pytestmark = pytest.mark.root


@pytest.fixture(scope="session")
def hulld():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    daemon = Hulld()
    try:
        build_busybox_image(daemon.root)
        daemon.start()
        yield daemon
    finally:
        daemon.remove_everything()


class Pods:
    """Makes pods and containers through the client; removes them after the test."""

    def __init__(self, daemon: Hulld):
        self.d = daemon
        self.rt = daemon.runtime_stub
        self.made: list[str] = []

    def config(self, name: str = "", **linux) -> api.PodSandboxConfig:
        name = name or f"pod-{uuid.uuid4().hex[:8]}"
        cfg = api.PodSandboxConfig(
            metadata=api.PodSandboxMetadata(name=name, namespace="hull-test",
                                            uid=uuid.uuid4().hex),
            hostname=name, log_directory=os.path.join(self.d.log_dir, name),
            labels={"app": "hull-test", "pod": name})
        ns = cfg.linux.security_context.namespace_options
        ns.pid = linux.pop("pid", api.CONTAINER)
        ns.network = linux.pop("network", api.POD)
        ns.ipc = linux.pop("ipc", api.POD)
        return cfg

    def run(self, cfg: api.PodSandboxConfig | None = None, handler: str = "") -> tuple[str, api.PodSandboxConfig]:
        cfg = cfg or self.config()
        sid = self.rt.RunPodSandbox(api.RunPodSandboxRequest(config=cfg, runtime_handler=handler),
                                    timeout=60).pod_sandbox_id
        self.made.append(sid)
        return sid, cfg

    def container(self, sid: str, cfg: api.PodSandboxConfig, command=None, name: str = "",
                  image: str = IMAGE, start: bool = True, **extra) -> str:
        name = name or f"c-{uuid.uuid4().hex[:6]}"
        cc = api.ContainerConfig(metadata=api.ContainerMetadata(name=name),
                                 image=api.ImageSpec(image=image),
                                 command=command if command is not None
                                 else ["sh", "-c", "sleep 1000"],
                                 log_path=f"{name}.log", labels={"container": name}, **extra)
        cid = self.rt.CreateContainer(api.CreateContainerRequest(
            pod_sandbox_id=sid, config=cc, sandbox_config=cfg), timeout=60).container_id
        if start:
            self.rt.StartContainer(api.StartContainerRequest(container_id=cid), timeout=60)
        return cid

    def exec(self, cid: str, *cmd: str, timeout: int = 10) -> api.ExecSyncResponse:
        return self.rt.ExecSync(api.ExecSyncRequest(container_id=cid, cmd=list(cmd),
                                                    timeout=timeout), timeout=timeout + 30)

    def status(self, cid: str) -> api.ContainerStatus:
        return self.rt.ContainerStatus(api.ContainerStatusRequest(container_id=cid)).status

    def cleanup(self) -> None:
        for sid in self.made:
            try:
                self.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
                self.rt.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=sid),
                                         timeout=60)
            except grpc.RpcError:
                pass


@pytest.fixture
def pods(hulld):
    helper = Pods(hulld)
    yield helper
    helper.cleanup()


def code_of(call, *args, **kwargs) -> grpc.StatusCode:
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK
