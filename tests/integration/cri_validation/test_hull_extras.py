"""Behaviours kubelet relies on that critest's validate suite has no spec for.

Not critest specs (they are counted apart in conformance-cri.md): GetContainerEvents,
UpdateContainerResources, PodSandboxStats, ImageFsInfo, ContainerStatus exit codes and
times, RuntimeConfig's cgroup driver, PullImage with the credentials kubelet passes.
"""

import queue
import threading
import time

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from hull.testing.registry import RegistryServer, build_image, push_image
from tests.integration.cri_validation import images
from tests.integration.cri_validation.conftest import PAUSE_CMD

pytestmark = pytest.mark.root


def test_getcontainerevents_streams_the_lifecycle_of_a_container(f):
    """GetContainerEvents: created, started, stopped, deleted, each with the pod's status."""
    events: queue.Queue = queue.Queue()
    call = f.rc.GetContainerEvents(api.GetEventsRequest(), timeout=120)

    def read():
        try:
            for event in call:
                events.put(event)
        except grpc.RpcError:
            pass
    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.5)  # the subscription is live before the first event
    pod_id, pod_config = f.pod_for_container()
    cid = f.default_container(pod_id, pod_config, "events-")
    f.start(cid)
    f.stop(cid, 10)
    f.remove(cid)
    wanted = [api.CONTAINER_CREATED_EVENT, api.CONTAINER_STARTED_EVENT,
              api.CONTAINER_STOPPED_EVENT, api.CONTAINER_DELETED_EVENT]
    seen = []
    deadline = time.monotonic() + 30
    try:
        while [t for t in wanted if t not in seen] and time.monotonic() < deadline:
            try:
                event = events.get(timeout=1)
            except queue.Empty:
                continue
            if event.container_id == cid:
                seen.append(event.container_event_type)
                assert event.created_at > 0
                assert event.pod_sandbox_status.id == pod_id
    finally:
        call.cancel()
    assert seen[:4] == wanted, [api.ContainerEventType.Name(t) for t in seen]


def cgroup_memory_limit(f, cid) -> int:
    out = f.exec_ok(cid, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
    return int(out.strip())


def test_updatecontainerresources_changes_the_memory_limit(f):
    """UpdateContainerResources: the new limit reaches the cgroup and ContainerStatus.resources."""
    pod_id, pod_config = f.pod_for_container()
    config = cri.container_config("update-resources-", images.BUSYBOX, PAUSE_CMD)
    config.linux.resources.memory_limit_in_bytes = 64 << 20
    cid = f.create_container(pod_id, pod_config, config)
    f.start_running(cid)
    assert cgroup_memory_limit(f, cid) == 64 << 20
    resources = api.LinuxContainerResources(memory_limit_in_bytes=96 << 20, cpu_shares=512)
    f.rc.UpdateContainerResources(api.UpdateContainerResourcesRequest(container_id=cid,
                                                                      linux=resources), timeout=30)
    assert cgroup_memory_limit(f, cid) == 96 << 20
    assert f.status(cid).resources.linux.memory_limit_in_bytes == 96 << 20


def test_podsandboxstats_reports_cpu_and_memory(f):
    """PodSandboxStats: attributes, cpu and memory with timestamps, the container listed."""
    pod_id, pod_config = f.pod_for_container()
    cid = f.default_container(pod_id, pod_config, "pod-stats-")
    f.start(cid)
    stats = f.rc.PodSandboxStats(api.PodSandboxStatsRequest(pod_sandbox_id=pod_id),
                                 timeout=30).stats
    assert stats.attributes.id == pod_id
    assert stats.linux.cpu.timestamp and stats.linux.memory.timestamp
    assert cid in [c.attributes.id for c in stats.linux.containers]


def test_imagefsinfo_reports_the_image_filesystem(f):
    """ImageFsInfo: a filesystem with used bytes and inodes."""
    response = f.ic.ImageFsInfo(api.ImageFsInfoRequest(), timeout=30)
    assert response.image_filesystems, response
    usage = response.image_filesystems[0]
    assert usage.fs_id.mountpoint and usage.used_bytes.value > 0 and usage.inodes_used.value > 0


def test_containerstatus_reports_exit_code_and_times(f):
    """ContainerStatus: exit code of the process, created < started <= finished, reason."""
    pod_id, pod_config = f.pod_for_container()
    config = cri.container_config("exit-code-", images.BUSYBOX, ["sh", "-c", "exit 3"])
    cid = f.create_container(pod_id, pod_config, config)
    f.start(cid)
    status = f.wait_state(cid, api.CONTAINER_EXITED)
    assert status.exit_code == 3
    assert status.reason == "Error"
    assert 0 < status.created_at <= status.started_at <= status.finished_at
    assert status.image.image and status.image_ref


def test_runtimeconfig_reports_the_cgroup_driver(f):
    """RuntimeConfig: the cgroup driver kubelet must match (cgroupfs here)."""
    response = f.rc.RuntimeConfig(api.RuntimeConfigRequest(), timeout=30)
    assert response.linux.cgroup_driver == api.CGROUPFS


def test_pullimage_uses_the_auth_of_the_request(f, tmp_path):
    """PullImage: kubelet's AuthConfig (image pull secret) opens a password-protected registry;
    without it the pull is refused and nothing is stored."""
    registry = RegistryServer(users={"kubelet": "s3cret"}, workdir=tmp_path / "registry").start()
    try:
        name = f"{registry.host}/private/busybox:auth"
        layout = tmp_path / "layout"
        tag = build_image(layout, "auth", marker="auth")
        push_image(layout, tag, name, registry=registry, creds="kubelet:s3cret")
        with pytest.raises(grpc.RpcError):
            f.ic.PullImage(api.PullImageRequest(image=api.ImageSpec(image=name)), timeout=60)
        assert f.image_status(name) is None
        auth = api.AuthConfig(username="kubelet", password="s3cret",
                              server_address=registry.host)
        ref = f.ic.PullImage(api.PullImageRequest(image=api.ImageSpec(image=name), auth=auth),
                             timeout=120).image_ref
        assert ref and f.image_status(name).id == ref
        f.remove_image(name)
    finally:
        registry.stop()
