"""A real hulld for the critest port: temp root/state/socket, hull's CNI plugins, a loopback registry.

The daemon and its cleanup come from the CRI area's kit (tests/integration/cri/kit.py); this
area only names its own objects (bridge ``hull-crv-t0``, 10.88.210.0/24, nft table
``hull-crv-pm``, cgroup parent ``/hull-crv-*``, temp dirs ``/tmp/hcrv-*``) and adds the
registry that stands in for the public images critest pulls (see images.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from hull.testing.registry import RegistryServer
from tests.integration.cri import kit
from tests.integration.cri_validation import images

pytestmark = pytest.mark.root

BRIDGE = "hull-crv-t0"
SUBNET = "10.88.210.0/24"
NFT_TABLE = "hull-crv-pm"
CNI_BIN = "/opt/cni/bin"


def conflist(ipam_dir: str) -> dict:
    return {"cniVersion": "1.0.0", "name": "hull-crv", "plugins": [
        {"type": "hull-bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
         "ipam": {"type": "hull-host-local", "ranges": [[{"subnet": SUBNET}]],
                  "dataDir": ipam_dir}},
        {"type": "hull-portmap", "capabilities": {"portMappings": True}, "nftTable": NFT_TABLE}]}


class ValidationHulld(kit.Hulld):
    """The CRI kit's daemon, with this area's names and a registries.conf.

    critest runs on the runtime's default handler; so does this suite: hulld's own default,
    ``hull`` (hull-runc). ``HULL_CRV_RUNTIME=runc`` (or ``crun``) reruns it on another.
    """

    def __init__(self):
        base = tempfile.mkdtemp(prefix="hcrv-", dir="/tmp")
        super().__init__(base=base, runtime=os.environ.get("HULL_CRV_RUNTIME", "hull"))
        self.cgroup_parent = f"/hull-crv-{uuid.uuid4().hex[:8]}"
        for name in os.listdir(self.conf_dir):
            os.unlink(os.path.join(self.conf_dir, name))
        with open(os.path.join(self.conf_dir, "10-hull-crv.conflist"), "w") as f:
            json.dump(conflist(os.path.join(self.base, "ipam")), f)
        self.registries_conf = os.path.join(self.base, "registries.conf")

    def argv(self) -> list[str]:
        argv = super().argv()
        bins = [i for i, a in enumerate(argv) if a == "--cni-bin-dir"]
        for i in reversed(bins):
            del argv[i:i + 2]
        return argv + ["--cni-bin-dir", CNI_BIN, "--registries-conf", self.registries_conf]

    def remove_everything(self) -> None:
        super().remove_everything()
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip", NFT_TABLE], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip6", NFT_TABLE], capture_output=True)
        subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True)

    def leftovers(self) -> list[str]:
        """This daemon's own kernel objects still present (other runs use other names)."""
        left = [f"cgroup {d}" for d in self._cgroup_dirs()]
        with open("/proc/self/mountinfo") as f:
            left += [f"mount {line.split()[4]}" for line in f
                     if line.split()[4].startswith(self.base)]
        return left

    def live_processes(self) -> list[str]:
        """Processes still in this daemon's cgroup tree."""
        found = []
        for d in self._cgroup_dirs():
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids = f.read().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                except OSError:
                    continue
                found.append(f"{pid} {cmd} (in {d})")
        return sorted(set(found))


class Suite:
    """Session state: the daemon, a client, the registry and image facts."""

    def __init__(self, daemon: ValidationHulld, client: cri.CriClient, facts: dict):
        self.daemon = daemon
        self.client = client
        self.rc = client.runtime
        self.ic = client.images
        self.facts = facts


@pytest.fixture(scope="session")
def suite():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if os.path.exists(f"/sys/class/net/{BRIDGE}"):
        # a second run would share the bridge and subnet (same pod IPs) and delete them
        pytest.fail(f"{BRIDGE} exists: another cri_validation run is active, or a killed one "
                    f"left it (ip link del {BRIDGE})", pytrace=False)
    daemon = ValidationHulld()
    registry = RegistryServer(workdir=os.path.join(daemon.base, "registry"))
    factory = None
    client = None
    try:
        registry.start()
        factory = images.ImageFactory(os.path.join(daemon.base, "images"), registry.host)
        facts = images.build_all(factory)
        with open(daemon.registries_conf, "w") as f:
            f.write(images.registries_conf(registry.host))
        daemon.start()
        client = cri.connect(daemon.socket, wait=30)
        yield Suite(daemon, client, facts)
    finally:
        survivors = []
        if client:
            try:
                pods_left = client.runtime.ListPodSandbox(api.ListPodSandboxRequest(),
                                                          timeout=30).items
            except grpc.RpcError:
                pods_left = ["unknown"]
            if not pods_left:  # every spec removed its pods: nothing may still run
                survivors = daemon.live_processes()
            client.close()
        daemon.remove_everything()
        registry.stop()
        if factory:
            factory.cleanup()
        left = daemon.leftovers()
        shutil.rmtree(daemon.base, ignore_errors=True)
        assert not survivors, f"processes outlived their removed pods: {survivors}"
        assert not left, f"hulld left these behind after every pod was removed: {left}"


class Framework:
    """critest's per-spec framework: makes pods and containers, tears pods down after."""

    def __init__(self, suite: Suite, tmp_path):
        self.suite = suite
        self.rc = suite.rc
        self.ic = suite.ic
        self.tmp = tmp_path
        self.pods: list[str] = []
        self.cleanups: list = []

    # pods

    def run_pod(self, config: api.PodSandboxConfig, handler: str = "") -> str:
        pod_id = self.rc.RunPodSandbox(api.RunPodSandboxRequest(config=config,
                                                                runtime_handler=handler),
                                       timeout=120).pod_sandbox_id
        assert pod_id, "RunPodSandbox returned an empty id"
        self.pods.append(pod_id)
        return pod_id

    def pod_for_container(self, **fields) -> tuple[str, api.PodSandboxConfig]:
        """framework.CreatePodSandboxForContainer."""
        config = cri.pod_config(**fields)
        return self.run_pod(config), config

    def log_dir_for(self, pod_name: str) -> str:
        """createLogTempDir: <tmp>/podLogTest*/<pod name>, mode 0777."""
        host = tempfile.mkdtemp(prefix="podLogTest", dir=str(self.tmp))
        path = os.path.join(host, pod_name)
        os.makedirs(path, mode=0o777)
        return path

    def pod_with_log_directory(self) -> tuple[str, api.PodSandboxConfig]:
        """createPodSandboxWithLogDirectory."""
        config = cri.pod_config("PodSandbox-with-log-directory-")
        config.log_directory = self.log_dir_for(config.metadata.name)
        return self.run_pod(config), config

    def pod_status(self, pod_id: str, verbose: bool = False) -> api.PodSandboxStatusResponse:
        return self.rc.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=pod_id,
                                                                    verbose=verbose), timeout=30)

    def list_pods(self, **filter_fields) -> list[api.PodSandbox]:
        request = api.ListPodSandboxRequest()
        if filter_fields:
            request.filter.CopyFrom(api.PodSandboxFilter(**filter_fields))
        return list(self.rc.ListPodSandbox(request, timeout=30).items)

    def stop_pod(self, pod_id: str) -> None:
        self.rc.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=120)

    def remove_pod(self, pod_id: str) -> None:
        self.rc.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=120)

    # images

    def ensure_image(self, name: str) -> None:
        """framework.CreateContainer pulls the image when ImageStatus finds none."""
        if not self.image_status(name):
            self.pull(name)

    def pull(self, name: str, pod_config: api.PodSandboxConfig | None = None,
             timeout: float = 120) -> str:
        request = api.PullImageRequest(image=api.ImageSpec(image=name))
        if pod_config is not None:
            request.sandbox_config.CopyFrom(pod_config)
        ref = self.ic.PullImage(request, timeout=timeout).image_ref
        assert ref, f"PullImage {name} returned an empty image_ref"
        return ref

    def image_status(self, name: str) -> api.Image | None:
        response = self.ic.ImageStatus(api.ImageStatusRequest(image=api.ImageSpec(image=name)),
                                       timeout=30)
        return response.image if response.HasField("image") else None

    def remove_image(self, name: str) -> None:
        """critest's removeImage: by the id ImageStatus gives, when present."""
        image = self.image_status(name)
        if image is not None:
            self.ic.RemoveImage(api.RemoveImageRequest(image=api.ImageSpec(image=image.id)),
                                timeout=60)

    # containers

    def create_container(self, pod_id: str, pod_config: api.PodSandboxConfig,
                         config: api.ContainerConfig) -> str:
        self.ensure_image(config.image.image)
        return self.create_container_raw(pod_id, pod_config, config)

    def create_container_raw(self, pod_id, pod_config, config) -> str:
        cid = self.rc.CreateContainer(api.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=config, sandbox_config=pod_config),
            timeout=120).container_id
        assert cid, "CreateContainer returned an empty id"
        return cid

    def default_container(self, pod_id, pod_config, prefix: str, **fields) -> str:
        """framework.CreateDefaultContainer: the test image running DefaultContainerCommand."""
        config = cri.container_config(prefix, images.BUSYBOX, cri.DEFAULT_CONTAINER_COMMAND,
                                      **fields)
        return self.create_container(pod_id, pod_config, config)

    def pause_container(self, pod_id, pod_config, prefix: str) -> str:
        """framework.CreatePauseContainer: the test image running DefaultPauseCommand."""
        config = cri.container_config(prefix, images.BUSYBOX, cri.DEFAULT_PAUSE_COMMAND)
        return self.create_container(pod_id, pod_config, config)

    def start(self, cid: str) -> None:
        self.rc.StartContainer(api.StartContainerRequest(container_id=cid), timeout=120)

    def stop(self, cid: str, timeout: int = 60) -> None:
        self.rc.StopContainer(api.StopContainerRequest(container_id=cid, timeout=timeout),
                              timeout=timeout + 30)

    def remove(self, cid: str) -> None:
        self.rc.RemoveContainer(api.RemoveContainerRequest(container_id=cid), timeout=60)

    def status(self, cid: str, verbose: bool = False) -> api.ContainerStatus:
        return self.rc.ContainerStatus(api.ContainerStatusRequest(container_id=cid,
                                                                  verbose=verbose),
                                       timeout=30).status

    def wait_state(self, cid: str, state: int, timeout: float = 60) -> api.ContainerStatus:
        last = {}

        def reached():
            last["s"] = self.status(cid)
            return last["s"].state == state
        try:
            cri.wait_for(reached, timeout, 0.2, f"container {cid} in state {state}")
        except AssertionError:
            raise AssertionError(f"container {cid} never reached "
                                 f"{api.ContainerState.Name(state)}: last {last.get('s')}")
        return last["s"]

    def start_running(self, cid: str) -> None:
        """testStartContainer: start, then Eventually RUNNING."""
        self.start(cid)
        self.wait_state(cid, api.CONTAINER_RUNNING)

    def list_containers(self, **filter_fields) -> list[api.Container]:
        request = api.ListContainersRequest()
        if filter_fields:
            request.filter.CopyFrom(api.ContainerFilter(**filter_fields))
        return list(self.rc.ListContainers(request, timeout=30).containers)

    def exec_sync(self, cid: str, cmd: list[str], timeout: int = 30) -> api.ExecSyncResponse:
        """rc.ExecSync as critest's client makes it: raises on a non-zero exit code too."""
        response = self.rc.ExecSync(api.ExecSyncRequest(container_id=cid, cmd=cmd,
                                                        timeout=timeout), timeout=timeout + 30)
        return response

    def exec_ok(self, cid: str, cmd: list[str]) -> str:
        """execSyncContainer: no error, empty stderr, returns stdout."""
        r = self.exec_sync(cid, cmd)
        assert r.exit_code == 0, f"{cmd} exited {r.exit_code}: stdout {r.stdout!r} stderr {r.stderr!r}"
        assert r.stderr == b"", f"{cmd}: stderr should be empty, got {r.stderr!r}"
        return r.stdout.decode()

    def log_lines(self, pod_config: api.PodSandboxConfig, log_path: str) -> list[cri.LogLine]:
        return cri.parse_cri_log(os.path.join(pod_config.log_directory, log_path))

    def verify_log(self, pod_config, log_path: str, text: str, stream: str = "stdout") -> None:
        msgs = self.log_lines(pod_config, log_path)
        assert any(m.text == text and m.stream == stream for m in msgs), \
            f"expected log {text!r} (stream={stream}) not found in {msgs}"

    def cleanup(self) -> list[str]:
        problems = []
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # every cleanup runs; report them all
                problems.append(f"cleanup {fn}: {e}")
        for pod_id in self.pods:
            for call in (self.stop_pod, self.remove_pod):
                try:
                    call(pod_id)
                except grpc.RpcError as e:
                    problems.append(f"{call.__name__} {pod_id}: {e.code()} {e.details()}")
        return problems


PAUSE_CMD = ["sh", "-c", "top"]
ECHO_HELLO_CMD = ["echo", "-n", "hello"]
SLEEP_CMD = ["sleep", "4321"]
CHECK_SLEEP_CMD = ["sh", "-c", "pgrep sleep || true"]
SHELL_CMD = ["/bin/sh"]
DEFAULT_LOG = "hello World"
LOG_DEFAULT_CMD = ["echo", DEFAULT_LOG]
LOOP_LOG_CMD = ["sh", "-c", f"while true; do echo {DEFAULT_LOG}; sleep 1; done"]


@pytest.fixture
def f(suite, tmp_path):
    framework = Framework(suite, tmp_path)
    yield framework
    problems = framework.cleanup()
    # critest's AfterEach expects StopPodSandbox and RemovePodSandbox to succeed
    assert not problems, "; ".join(problems)


def code_of(call, *args, **kwargs) -> grpc.StatusCode:
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK
