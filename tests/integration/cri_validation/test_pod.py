"""critest pkg/validate/pod.go and pod_linux.go: [k8s.io] PodSandbox."""


import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from tests.integration.cri_validation import images
from tests.integration.cri_validation.conftest import PAUSE_CMD

pytestmark = pytest.mark.root

# pod.go expectedMetricDescriptorNames minus unimplementedMetricDescriptors
EXPECTED_METRICS = [
    "container_blkio_device_usage_total", "container_cpu_cfs_periods_total",
    "container_cpu_cfs_throttled_periods_total", "container_cpu_cfs_throttled_seconds_total",
    "container_cpu_system_seconds_total", "container_cpu_usage_seconds_total",
    "container_cpu_user_seconds_total", "container_file_descriptors", "container_fs_inodes_free",
    "container_fs_inodes_total", "container_fs_limit_bytes", "container_fs_reads_bytes_total",
    "container_fs_reads_total", "container_fs_usage_bytes", "container_fs_writes_bytes_total",
    "container_fs_writes_total", "container_last_seen", "container_memory_cache",
    "container_memory_failcnt", "container_memory_failures_total", "container_memory_kernel_usage",
    "container_memory_mapped_file", "container_memory_max_usage_bytes", "container_memory_rss",
    "container_memory_swap", "container_memory_usage_bytes", "container_memory_working_set_bytes",
    "container_network_receive_bytes_total", "container_network_receive_errors_total",
    "container_network_receive_packets_dropped_total", "container_network_receive_packets_total",
    "container_network_transmit_bytes_total", "container_network_transmit_errors_total",
    "container_network_transmit_packets_dropped_total", "container_network_transmit_packets_total",
    "container_oom_events_total", "container_processes", "container_sockets",
    "container_spec_cpu_period", "container_spec_cpu_shares", "container_spec_memory_limit_bytes",
    "container_spec_memory_swap_limit_bytes", "container_start_time_seconds", "container_threads",
    "container_threads_max",
]
UNIMPLEMENTED = {"container_hugetlb_max_usage_bytes", "container_hugetlb_usage_bytes",
                 "container_pressure_cpu_stalled_seconds_total",
                 "container_pressure_cpu_waiting_seconds_total",
                 "container_pressure_io_stalled_seconds_total",
                 "container_pressure_io_waiting_seconds_total",
                 "container_pressure_memory_stalled_seconds_total",
                 "container_pressure_memory_waiting_seconds_total", "container_spec_cpu_quota",
                 "container_spec_memory_reservation_limit_bytes", "container_ulimits_soft"}
OPTIONAL_VALUES = {"container_blkio_device_usage_total", "container_fs_reads_bytes_total",
                   "container_fs_reads_total", "container_fs_writes_bytes_total",
                   "container_fs_writes_total"}


def run_default_pod(f, prefix):
    """framework.RunDefaultPodSandbox."""
    config = cri.pod_config(prefix)
    return f.run_pod(config)


def test_runtime_should_support_running_podsandbox(f):
    """PodSandbox: runtime should support running PodSandbox [Conformance]."""
    pod_id = run_default_pod(f, "PodSandbox-for-create-test-")
    assert f.pod_status(pod_id).status.state == api.SANDBOX_READY
    assert pod_id in [p.id for p in f.list_pods(id=pod_id)]


def test_runtime_should_support_stopping_podsandbox(f):
    """PodSandbox: runtime should support stopping PodSandbox [Conformance]."""
    pod_id = run_default_pod(f, "PodSandbox-for-test-stop-")
    f.stop_pod(pod_id)
    assert f.pod_status(pod_id).status.state == api.SANDBOX_NOTREADY


def test_runtime_should_support_removing_podsandbox(f):
    """PodSandbox: runtime should support removing PodSandbox [Conformance]."""
    pod_id = run_default_pod(f, "PodSandbox-for-test-remove-")
    f.stop_pod(pod_id)
    f.remove_pod(pod_id)
    f.pods.remove(pod_id)
    assert pod_id not in [p.id for p in f.list_pods(id=pod_id)]


def test_runtime_should_support_preserving_podsandbox_attributes(f):
    """PodSandbox: runtime should support preserving PodSandbox attributes [Conformance]."""
    name = "PodSandbox-with-attributes-" + cri.new_uuid()
    metadata = cri.pod_metadata(name)
    labels = {"foo": "bar", "io.kubernetes.pod.name": name,
              "io.kubernetes.pod.namespace": metadata.namespace,
              "io.kubernetes.pod.uid": metadata.uid}
    annotations = {"abc": "def"}
    config = api.PodSandboxConfig(metadata=metadata, labels=labels, annotations=annotations)
    config.linux.SetInParent()
    pod_id = f.run_pod(config)
    status = f.pod_status(pod_id).status
    for got in (status, ):
        assert got.metadata == metadata
        assert labels.items() <= dict(got.labels).items()
        assert annotations.items() <= dict(got.annotations).items()
    pods = f.list_pods(id=pod_id)
    assert len(pods) == 1
    assert pods[0].metadata == metadata
    assert labels.items() <= dict(pods[0].labels).items()
    assert annotations.items() <= dict(pods[0].annotations).items()


def list_descriptors(f):
    try:
        return list(f.rc.ListMetricDescriptors(api.ListMetricDescriptorsRequest(),
                                               timeout=30).descriptors)
    except grpc.RpcError as e:
        # critest skips on Unimplemented; issue 5 says hull implements the metrics RPCs
        pytest.fail(f"ListMetricDescriptors: {e.code()} {e.details()}")


def test_runtime_should_support_returning_metrics_descriptors(f):
    """PodSandbox: runtime should support returning metrics descriptors [Conformance]."""
    descs = list_descriptors(f)
    by_name = {}
    for d in descs:
        by_name[d.name] = d
        assert d.help, f"descriptor {d.name} has no help text"
        assert d.label_keys, f"descriptor {d.name} has no label keys"
    missing = [n for n in EXPECTED_METRICS if n not in by_name]
    assert not missing, f"missing metric descriptors: {missing}"


def test_runtime_should_support_listing_pod_sandbox_metrics(f):
    """PodSandbox: runtime should support listing pod sandbox metrics [Conformance]."""
    descs = list_descriptors(f)
    pod_id, pod_config = f.pod_for_container()
    config = cri.container_config("container-for-metrics-", images.BUSYBOX, PAUSE_CMD)
    r = config.linux.resources
    r.cpu_period, r.cpu_quota, r.cpu_shares = 100000, 20000, 1024
    r.memory_limit_in_bytes = r.memory_swap_limit_in_bytes = 64 * 1024 * 1024
    cid = f.create_container(pod_id, pod_config, config)
    f.start(cid)
    r = f.exec_sync(cid, ["/bin/sh", "-c", "mkdir -p /var/lib/mydisktest && for i in $(seq 1 10); "
                          "do echo hi >> /var/lib/mydisktest/inode_test_file_$i; done; sync"])
    assert r.exit_code == 0, r
    metrics = list(f.rc.ListPodSandboxMetrics(api.ListPodSandboxMetricsRequest(),
                                              timeout=30).pod_metrics)
    pod = next((m for m in metrics if m.pod_sandbox_id == pod_id), None)
    assert pod is not None, f"metrics for pod {pod_id} should be present"
    found = {}
    for metric in list(pod.metrics) + [m for c in pod.container_metrics for m in c.metrics]:
        if not found.get(metric.name):
            found[metric.name] = list(metric.label_values)
    missing = [n for n in EXPECTED_METRICS if not found.get(n) and n not in OPTIONAL_VALUES]
    assert not missing, f"expected metrics to be present: {missing}"
    mismatched = []
    for d in descs:
        if d.name not in found:
            if d.name in EXPECTED_METRICS and d.name not in OPTIONAL_VALUES:
                mismatched.append(d.name)
            elif d.name not in UNIMPLEMENTED and d.name not in OPTIONAL_VALUES:
                mismatched.append(d.name)
        elif len(found[d.name]) != len(d.label_keys):
            mismatched.append(d.name)
    assert not mismatched, f"labels differ between descriptors and metrics: {mismatched}"


def sysctl_pod(f, sysctls):
    config = cri.pod_config("pod-sandbox-with-sysctls-")
    config.linux.sysctls.update(sysctls)
    return f.run_pod(config), config


@pytest.mark.parametrize("sysctl,path,value", [
    pytest.param("kernel.shm_rmid_forced", "/proc/sys/kernel/shm_rmid_forced", "1",
                 id="should support safe sysctls"),
    pytest.param("fs.mqueue.msg_max", "/proc/sys/fs/mqueue/msg_max", "100",
                 id="should support unsafe sysctls"),
])
def test_runtime_should_support_sysctls(f, sysctl, path, value):
    """PodSandbox: runtime should support sysctls (pod_linux.go)."""
    pod_id, pod_config = sysctl_pod(f, {sysctl: value})
    cid = f.default_container(pod_id, pod_config, "container-sysctl-")
    f.start(cid)
    r = f.exec_sync(cid, ["cat", path])
    assert r.exit_code == 0, r
    assert r.stdout.decode().strip() == value
