"""ListMetricDescriptors and ListPodSandboxMetrics: cAdvisor's container metrics from cgroups.

Every descriptor listed has values for every running container (label
values in the descriptor's key order); names and labels follow cAdvisor,
which kubelet's /metrics/cadvisor serves from these RPCs.
"""

from __future__ import annotations

import os

from hull._generated import api_pb2 as api
from hull.cri import metrics_sources, stats
from hull.cri.model import ContainerState, SandboxState, now_ns

BASE = ["container", "pod", "namespace"]
NET = ["interface", "pod", "namespace"]
NS = 1_000_000_000
C, G = api.COUNTER, api.GAUGE


def _mem(f, key):
    return f.raw["memory"].get(key, 0)


def _spec(c):
    res = api.LinuxContainerResources()
    if c.resources:
        res.ParseFromString(c.resources)
    return res


def _throttle(f, key):
    return f.raw["cpu"]["throttling"][key]


# name -> (help, type, extra label keys, read(facts, container) -> [(extra labels, value)])
CONTAINER = {
    "container_cpu_usage_seconds_total": ("Cumulative cpu time consumed in seconds.", C, [],
        lambda f, c: [([], f.raw["cpu"]["usage"]["total"] // NS)]),
    "container_cpu_user_seconds_total": ("Cumulative user cpu time consumed in seconds.", C, [],
        lambda f, c: [([], f.raw["cpu"]["usage"]["user"] // NS)]),
    "container_cpu_system_seconds_total": ("Cumulative system cpu time consumed in seconds.", C,
        [], lambda f, c: [([], f.raw["cpu"]["usage"]["kernel"] // NS)]),
    "container_cpu_cfs_periods_total": ("Number of elapsed enforcement period intervals.", C,
        [], lambda f, c: [([], _throttle(f, "periods"))]),
    "container_cpu_cfs_throttled_periods_total": ("Number of throttled period intervals.", C,
        [], lambda f, c: [([], _throttle(f, "throttledPeriods"))]),
    "container_cpu_cfs_throttled_seconds_total": (
        "Total time duration the container has been throttled.", C, [],
        lambda f, c: [([], _throttle(f, "throttledTime") // NS)]),
    "container_memory_cache": ("Number of bytes of page cache memory.", G, [],
        lambda f, c: [([], _mem(f, "cache"))]),
    "container_memory_rss": ("Size of RSS in bytes.", G, [], lambda f, c: [([], _mem(f, "rss"))]),
    "container_memory_mapped_file": ("Size of memory mapped files in bytes.", G, [],
        lambda f, c: [([], f.raw["memory"]["raw"].get("mapped_file",
                                                      f.raw["memory"]["raw"].get("file_mapped", 0)))]),
    "container_memory_swap": ("Container swap usage in bytes.", G, [],
        lambda f, c: [([], max(f.raw["memory"]["swap"]["usage"]
                               - f.raw["memory"]["usage"]["usage"], 0))]),
    "container_memory_failcnt": ("Number of memory usage hits limits.", C, [],
        lambda f, c: [([], f.raw["memory"]["usage"]["failcnt"])]),
    "container_memory_usage_bytes": ("Current memory usage in bytes, including all memory "
        "regardless of when it was accessed.", G, [],
        lambda f, c: [([], f.raw["memory"]["usage"]["usage"])]),
    "container_memory_max_usage_bytes": ("Maximum memory usage recorded in bytes.", G, [],
        lambda f, c: [([], f.raw["memory"]["usage"]["max"])]),
    "container_memory_working_set_bytes": ("Current working set in bytes.", G, [],
        lambda f, c: [([], _mem(f, "workingSet"))]),
    "container_memory_kernel_usage": ("Size of kernel memory allocated in bytes.", G, [],
        lambda f, c: [([], f.raw["memory"]["kernel"]["usage"])]),
    "container_memory_failures_total": ("Cumulative count of memory allocation failures.", C,
        ["failure_type", "scope"],
        lambda f, c: [(["pgfault", "container"], _mem(f, "pageFaults")),
                      (["pgmajfault", "container"], _mem(f, "majorPageFaults"))]),
    "container_oom_events_total": ("Count of out of memory events observed for the "
        "container.", C, [], lambda f, c: [([], _mem(f, "oomKillEvents"))]),
    "container_processes": ("Number of processes running inside the container.", G, [],
        lambda f, c: [([], len(f.pids))]),
    "container_threads": ("Number of threads running inside the container.", G, [],
        lambda f, c: [([], f.threads)]),
    "container_threads_max": ("Maximum number of threads allowed inside the container, "
        "infinity if value is zero.", G, [], lambda f, c: [([], f.raw["pids"]["limit"])]),
    "container_file_descriptors": ("Number of open file descriptors for the container.", G,
        [], lambda f, c: [([], f.fds)]),
    "container_sockets": ("Number of open sockets for the container.", G, [],
        lambda f, c: [([], f.sockets)]),
    "container_fs_usage_bytes": ("Number of bytes that are consumed by the container on "
        "this filesystem.", G, ["device"], lambda f, c: [(["rootfs"], f.fs_used)]),
    "container_fs_inodes_total": ("Number of Inodes.", G, ["device"],
        lambda f, c: [(["rootfs"], f.fs_inodes)]),
    "container_fs_inodes_free": ("Number of available Inodes.", G, ["device"],
        lambda f, c: [(["rootfs"], f.fs_inodes_free)]),
    "container_fs_limit_bytes": ("Number of bytes that can be consumed by the container on "
        "this filesystem.", G, ["device"], lambda f, c: [(["rootfs"], f.fs_limit)]),
    "container_fs_reads_bytes_total": ("Cumulative count of bytes read.", C, ["device"],
        lambda f, c: _blkio(f, "ioServiceBytesRecursive", "Read")),
    "container_fs_writes_bytes_total": ("Cumulative count of bytes written.", C, ["device"],
        lambda f, c: _blkio(f, "ioServiceBytesRecursive", "Write")),
    "container_fs_reads_total": ("Cumulative count of reads completed.", C, ["device"],
        lambda f, c: _blkio(f, "ioServicedRecursive", "Read")),
    "container_fs_writes_total": ("Cumulative count of writes completed.", C, ["device"],
        lambda f, c: _blkio(f, "ioServicedRecursive", "Write")),
    "container_blkio_device_usage_total": ("Blkio device bytes usage.", C,
        ["device", "major", "minor", "operation"],
        lambda f, c: [([f"{e['major']}:{e['minor']}", str(e["major"]), str(e["minor"]),
                        e["op"]], e["value"])
                      for e in f.raw["blkio"]["ioServiceBytesRecursive"]]),
    "container_spec_cpu_period": ("CPU period of the container.", G, [],
        lambda f, c: [([], _spec(c).cpu_period)]),
    "container_spec_cpu_shares": ("CPU share of the container.", G, [],
        lambda f, c: [([], _spec(c).cpu_shares)]),
    "container_spec_memory_limit_bytes": ("Memory limit for the container.", G, [],
        lambda f, c: [([], max(_spec(c).memory_limit_in_bytes, 0))]),
    "container_spec_memory_swap_limit_bytes": ("Memory swap limit for the container.", G, [],
        lambda f, c: [([], max(_spec(c).memory_swap_limit_in_bytes, 0))]),
    "container_start_time_seconds": ("Start time of the container since unix epoch in "
        "seconds.", G, [], lambda f, c: [([], c.started_at // NS)]),
    "container_last_seen": ("Last time a container was seen by the exporter.", G, [],
        lambda f, c: [([], now_ns() // NS)]),
}


def _blkio(f, table: str, op: str):
    return [([f"{e['major']}:{e['minor']}"], e["value"]) for e in f.raw["blkio"][table]
            if e["op"] == op]


NETWORK = {
    "container_network_receive_bytes_total": ("Cumulative count of bytes received.", "rx_bytes"),
    "container_network_receive_packets_total": ("Cumulative count of packets received.",
                                                "rx_packets"),
    "container_network_receive_packets_dropped_total": (
        "Cumulative count of packets dropped while receiving.", "rx_dropped"),
    "container_network_receive_errors_total": (
        "Cumulative count of errors encountered while receiving.", "rx_errors"),
    "container_network_transmit_bytes_total": ("Cumulative count of bytes transmitted.",
                                               "tx_bytes"),
    "container_network_transmit_packets_total": ("Cumulative count of packets transmitted.",
                                                 "tx_packets"),
    "container_network_transmit_packets_dropped_total": (
        "Cumulative count of packets dropped while transmitting.", "tx_dropped"),
    "container_network_transmit_errors_total": (
        "Cumulative count of errors encountered while transmitting.", "tx_errors"),
}


async def descriptors(d, request, ctx) -> api.ListMetricDescriptorsResponse:
    found = [api.MetricDescriptor(name=name, help=help_text, label_keys=BASE + extra)
             for name, (help_text, _, extra, _) in CONTAINER.items()]
    found += [api.MetricDescriptor(name=name, help=help_text, label_keys=NET)
              for name, (help_text, _) in NETWORK.items()]
    return api.ListMetricDescriptorsResponse(descriptors=found)


def pod_metrics(d, sb) -> api.PodSandboxMetrics:
    meta = sb.metadata
    out = api.PodSandboxMetrics(pod_sandbox_id=sb.id)
    running = [c for c in d.store.containers(sb.id) if c.state is ContainerState.RUNNING]
    pids = [sb.extra.get("infra_pid", 0)] + [c.pid for c in running]
    pid = next((p for p in pids if p and os.path.exists(f"/proc/{p}")), 0)
    if pid and not sb.host_network:
        for iface in stats.net_dev(pid):
            labels = [iface["name"], meta.name, meta.namespace]
            for name, (_, key) in NETWORK.items():
                out.metrics.append(api.Metric(name=name, metric_type=C, label_values=labels,
                                              value=api.UInt64Value(value=iface[key])))
    at = now_ns()
    for c in running:
        facts = metrics_sources.gather(d, sb, c, at)
        if facts is None:
            continue
        cm = out.container_metrics.add(container_id=c.id)
        base = [c.metadata.name, meta.name, meta.namespace]
        for name, (_, kind, _, read) in CONTAINER.items():
            for extra, value in read(facts, c):
                cm.metrics.append(api.Metric(name=name, metric_type=kind,
                                             label_values=base + extra,
                                             value=api.UInt64Value(value=max(int(value), 0))))
    return out


def all_pods(d) -> list[api.PodSandboxMetrics]:
    return [pod_metrics(d, sb) for sb in d.store.sandboxes() if sb.state is SandboxState.READY]


async def handle(d, request, ctx) -> api.ListPodSandboxMetricsResponse:
    return api.ListPodSandboxMetricsResponse(pod_metrics=await d.blocking(all_pods, d))


async def stream(d, request, ctx):
    items = await d.blocking(all_pods, d)
    for start in range(0, max(len(items), 1), 100):
        yield api.StreamPodSandboxMetricsResponse(pod_sandbox_metrics=items[start:start + 100])
