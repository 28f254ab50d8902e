"""critest pkg/validate/container.go: [k8s.io] Container."""

import os
import time

import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from tests.integration.cri_validation import images
from tests.integration.cri_validation.conftest import (CHECK_SLEEP_CMD, DEFAULT_LOG,
                                                       ECHO_HELLO_CMD, LOG_DEFAULT_CMD,
                                                       LOOP_LOG_CMD, PAUSE_CMD, SLEEP_CMD)

pytestmark = pytest.mark.root


@pytest.fixture
def pod(f):
    """The 'basic operations' context's BeforeEach: CreatePodSandboxForContainer."""
    return f.pod_for_container()


def listed(f, cid):
    return cid in [c.id for c in f.list_containers(id=cid)]


def test_runtime_should_support_creating_container(f, pod):
    """Container: runtime should support creating container [Conformance]."""
    cid = f.default_container(*pod, "container-for-create-")
    assert listed(f, cid), "Container should be created"


def test_runtime_should_support_starting_container(f, pod):
    """Container: runtime should support starting container [Conformance]."""
    cid = f.default_container(*pod, "container-for-start-test-")
    f.start_running(cid)


def test_runtime_should_support_stopping_container(f, pod):
    """Container: runtime should support stopping container [Conformance]."""
    cid = f.default_container(*pod, "container-for-stop-test-")
    f.start(cid)
    started = time.monotonic()
    f.stop(cid, 60)
    # stopContainer fails the spec when StopContainer takes the whole timeout
    assert time.monotonic() - started < 60, "stop container timed out"
    f.wait_state(cid, api.CONTAINER_EXITED)


def test_runtime_should_support_removing_created_container(f, pod):
    """Container: runtime should support removing created container [Conformance]."""
    cid = f.pause_container(*pod, "container-for-remove-created-test-")
    f.remove(cid)
    assert not listed(f, cid), "Container should be removed"


def test_runtime_should_support_removing_running_container(f, pod):
    """Container: runtime should support removing running container [Conformance]."""
    cid = f.pause_container(*pod, "container-for-remove-running-test-")
    f.start(cid)
    f.remove(cid)
    assert not listed(f, cid), "Container should be removed"


def test_runtime_should_support_removing_stopped_container(f, pod):
    """Container: runtime should support removing stopped container [Conformance]."""
    cid = f.pause_container(*pod, "container-for-remove-stopped-test-")
    f.start(cid)
    f.stop(cid, 60)
    f.wait_state(cid, api.CONTAINER_EXITED)
    f.remove(cid)
    assert not listed(f, cid), "Container should be removed"


def test_runtime_should_support_execsync(f, pod):
    """Container: runtime should support execSync [Conformance]."""
    cid = f.default_container(*pod, "container-for-execSync-test-")
    f.start(cid)
    assert f.exec_ok(cid, ECHO_HELLO_CMD) == "hello"


def test_runtime_should_support_execsync_with_timeout(f, pod):
    """Container: runtime should support execSync with timeout [Conformance]."""
    cid = f.default_container(*pod, "container-for-execSync-timeout-test-")
    f.start(cid)
    # the Go client returns an error for a timed-out exec (gRPC error or a timeout exit)
    try:
        r = f.exec_sync(cid, SLEEP_CMD, timeout=1)
        timed_out = r.exit_code != 0
    except Exception:  # grpc.RpcError
        timed_out = True
    assert timed_out, "execSync should timeout"
    r = f.exec_sync(cid, CHECK_SLEEP_CMD, timeout=30)
    assert r.exit_code == 0, r
    assert r.stderr == b""
    assert r.stdout.strip() == b"", f"timed-out exec process should be gone: {r.stdout!r}"


def stats_for(f, filter_=None):
    request = api.ListContainerStatsRequest()
    if filter_ is not None:
        request.filter.CopyFrom(filter_)
    return list(f.rc.ListContainerStats(request, timeout=30).stats)


def stat_found(stats, cid):
    return any(s.attributes.id == cid for s in stats)


def test_runtime_should_support_listing_container_stats(f, pod):
    """Container: runtime should support listing container stats [Conformance]."""
    cid = f.default_container(*pod, "container-for-stats-")
    f.start(cid)
    stats = f.rc.ContainerStats(api.ContainerStatsRequest(container_id=cid), timeout=30).stats
    assert stats.attributes.id == cid
    assert "container-for-stats-" in stats.attributes.metadata.name
    assert stats.cpu.timestamp != 0
    assert stats.memory.timestamp != 0


def test_runtime_should_support_listing_stats_for_started_containers(f, pod):
    """Container: runtime should support listing stats for started containers [Conformance]."""
    cid = f.default_container(*pod, "container-for-stats-")
    f.start(cid)
    assert stat_found(stats_for(f, api.ContainerStatsFilter(id=cid)), cid)


def test_runtime_should_support_listing_stats_for_started_containers_when_filter_is_nil(f, pod):
    """Container: ... listing stats for started containers when filter is nil [Conformance]."""
    cid = f.default_container(*pod, "container-for-stats-with-nil-filter-")
    f.start(cid)
    assert stat_found(stats_for(f), cid)


def test_runtime_should_support_listing_stats_for_three_created_containers_when_filter_is_nil(f, pod):
    """Container: ... listing stats for three created containers when filter is nil. [Conformance]."""
    cids = [f.default_container(*pod, "container-for-stats-with-nil-filter-") for _ in range(3)]
    for cid in cids:
        f.start(cid)
    stats = stats_for(f)
    for cid in cids:
        assert stat_found(stats, cid), f"stats of {cid} should be found"


def test_runtime_should_support_listing_stats_for_containers_filtered_by_labels(f, pod):
    """Container: runtime should support listing stats for containers filtered by labels [Conformance]."""
    labels = {"foo": "bar"}
    cid = f.default_container(*pod, "container-for-stats-with-labels-", labels=labels)
    f.start(cid)
    assert stat_found(stats_for(f, api.ContainerStatsFilter(label_selector=labels)), cid)
    assert not stat_found(stats_for(f, api.ContainerStatsFilter(label_selector={"foo": "baz"})),
                          cid), "Container should be filtered"


# runtime should support adding volume and device

def host_path_with_flag(tmp_path, pod_id):
    path = tmp_path / ("test" + pod_id[:12])
    path.mkdir()
    (path / "testVolume.file").write_text("")
    return str(path)


def volume_container(f, pod, prefix, host_path):
    config = cri.container_config(prefix, images.BUSYBOX, PAUSE_CMD)
    config.mounts.add(host_path=host_path, container_path=host_path, selinux_relabel=True)
    return f.create_container(*pod, config)


def test_runtime_should_support_starting_container_with_volume(f, pod, tmp_path):
    """Container: runtime should support starting container with volume [Conformance]."""
    host_path = host_path_with_flag(tmp_path, pod[0])
    cid = volume_container(f, pod, "container-with-volume-test-", host_path)
    f.start_running(cid)
    assert f.exec_ok(cid, ["ls", "-A", host_path]) != ""


def test_runtime_should_support_starting_container_with_volume_when_host_path_is_a_symlink(
        f, pod, tmp_path):
    """Container: ... starting container with volume when host path is a symlink [Conformance]."""
    host_path = host_path_with_flag(tmp_path, pod[0])
    link = host_path + "-symlink"
    os.symlink(host_path, link)
    cid = volume_container(f, pod, "container-with-symlink-host-path-test-", link)
    f.start_running(cid)
    assert f.exec_ok(cid, ["ls", "-A", link]) != ""


# runtime should support log

def test_runtime_should_support_starting_container_with_log(f):
    """Container: runtime should support starting container with log [Conformance]."""
    pod_id, pod_config = f.pod_with_log_directory()
    name_prefix = "container-with-log-test-"
    config = cri.container_config(name_prefix, images.BUSYBOX, LOG_DEFAULT_CMD)
    config.log_path = config.metadata.name + ".log"
    cid = f.create_container(pod_id, pod_config, config)
    f.start(cid)
    f.wait_state(cid, api.CONTAINER_EXITED)
    f.verify_log(pod_config, config.log_path, DEFAULT_LOG + "\n", "stdout")


def test_runtime_should_support_reopening_container_log(f):
    """Container: runtime should support reopening container log [Conformance]."""
    pod_id, pod_config = f.pod_with_log_directory()
    config = cri.container_config("container-reopen-log-test-", images.BUSYBOX, LOOP_LOG_CMD)
    config.log_path = config.metadata.name + ".log"
    cid = f.create_container(pod_id, pod_config, config)
    f.start(cid)
    log = os.path.join(pod_config.log_directory, config.log_path)
    cri.wait_for(lambda: os.path.exists(log) and f.log_lines(pod_config, config.log_path),
                 60, 0.5, "container log")
    os.rename(log, log + ".new")
    f.rc.ReopenContainerLog(api.ReopenContainerLogRequest(container_id=cid), timeout=30)
    assert os.path.exists(log), "new container log file should be created"
    cri.wait_for(lambda: f.log_lines(pod_config, config.log_path), 60, 0.5, "new container log")
    old = len(f.log_lines(pod_config, config.log_path + ".new"))
    for _ in range(5):  # Consistently, 5 s
        time.sleep(1)
        assert len(f.log_lines(pod_config, config.log_path + ".new")) == old, \
            "old container log should not change"
