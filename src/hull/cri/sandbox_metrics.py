"""ListMetricDescriptors and ListPodSandboxMetrics: cAdvisor-named metrics from cgroups."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri import stats
from hull.cri.model import SandboxState

LABELS = ["container", "pod", "namespace"]
NET_LABELS = ["interface", "pod", "namespace"]

# name -> (help, label keys, type, how to read it from ContainerStats)
CONTAINER_METRICS = {
    "container_cpu_usage_seconds_total": (
        "Cumulative cpu time consumed in seconds.", LABELS, api.COUNTER,
        lambda s: s.cpu.usage_core_nano_seconds.value // 1_000_000_000),
    "container_memory_working_set_bytes": (
        "Current working set in bytes.", LABELS, api.GAUGE,
        lambda s: s.memory.working_set_bytes.value),
    "container_memory_usage_bytes": (
        "Current memory usage in bytes, including all memory regardless of when it was "
        "accessed.", LABELS, api.GAUGE, lambda s: s.memory.usage_bytes.value),
    "container_memory_rss": (
        "Size of RSS in bytes.", LABELS, api.GAUGE, lambda s: s.memory.rss_bytes.value),
    "container_memory_failures_total": (
        "Cumulative count of memory allocation failures (page faults).", LABELS, api.COUNTER,
        lambda s: s.memory.page_faults.value),
    "container_fs_usage_bytes": (
        "Number of bytes consumed by the container's writable layer.", LABELS, api.GAUGE,
        lambda s: s.writable_layer.used_bytes.value),
    "container_fs_inodes_total": (
        "Number of inodes in the container's writable layer.", LABELS, api.GAUGE,
        lambda s: s.writable_layer.inodes_used.value),
}
NETWORK_METRICS = {
    "container_network_receive_bytes_total": (
        "Cumulative count of bytes received.", NET_LABELS, api.COUNTER,
        lambda i: i.rx_bytes.value),
    "container_network_transmit_bytes_total": (
        "Cumulative count of bytes transmitted.", NET_LABELS, api.COUNTER,
        lambda i: i.tx_bytes.value),
    "container_network_receive_errors_total": (
        "Cumulative count of errors encountered while receiving.", NET_LABELS, api.COUNTER,
        lambda i: i.rx_errors.value),
    "container_network_transmit_errors_total": (
        "Cumulative count of errors encountered while transmitting.", NET_LABELS, api.COUNTER,
        lambda i: i.tx_errors.value),
}


async def descriptors(d, request, ctx) -> api.ListMetricDescriptorsResponse:
    return api.ListMetricDescriptorsResponse(descriptors=[
        api.MetricDescriptor(name=name, help=help_text, label_keys=keys)
        for name, (help_text, keys, _, _) in {**CONTAINER_METRICS, **NETWORK_METRICS}.items()])


def pod_metrics(d, sb) -> api.PodSandboxMetrics:
    pod = stats.sandbox_stats(d, sb)
    meta = sb.metadata
    out = api.PodSandboxMetrics(pod_sandbox_id=sb.id)
    ifaces = [pod.linux.network.default_interface, *pod.linux.network.interfaces]
    for iface in ifaces:
        if not iface.name:
            continue
        for name, (_, _, kind, read) in NETWORK_METRICS.items():
            out.metrics.append(api.Metric(name=name, metric_type=kind,
                                          label_values=[iface.name, meta.name, meta.namespace],
                                          value=api.UInt64Value(value=read(iface))))
    for cs in pod.linux.containers:
        cm = out.container_metrics.add(container_id=cs.attributes.id)
        labels = [cs.attributes.metadata.name, meta.name, meta.namespace]
        for name, (_, _, kind, read) in CONTAINER_METRICS.items():
            cm.metrics.append(api.Metric(name=name, metric_type=kind, label_values=labels,
                                         value=api.UInt64Value(value=read(cs))))
    return out


def all_pods(d) -> list[api.PodSandboxMetrics]:
    return [pod_metrics(d, sb) for sb in d.store.sandboxes() if sb.state is SandboxState.READY]


async def handle(d, request, ctx) -> api.ListPodSandboxMetricsResponse:
    return api.ListPodSandboxMetricsResponse(pod_metrics=await d.blocking(all_pods, d))


async def stream(d, request, ctx):
    items = await d.blocking(all_pods, d)
    for start in range(0, max(len(items), 1), 100):
        yield api.StreamPodSandboxMetricsResponse(pod_sandbox_metrics=items[start:start + 100])


