"""Container and pod usage from cgroups (hull.cgroups), in CRI shapes."""

from __future__ import annotations

import os
import time

from hull._generated import api_pb2 as api
from hull.cri.model import Container, ContainerState, Sandbox, now_ns
from hull.errors import HullError


class CpuRates:
    """usage_nano_cores needs two samples: remember the last one per object."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}

    def rate(self, key: str, total_ns: int, at_ns: int) -> int:
        last = self._last.get(key)
        self._last[key] = (at_ns, total_ns)
        if not last or at_ns <= last[0] or total_ns < last[1]:
            return 0
        return (total_ns - last[1]) * 1_000_000_000 // (at_ns - last[0])


def cgroup_stats(path: str, owner: str) -> dict | None:
    from hull.cgroups import open_manager

    try:
        return open_manager(path, container_id=owner).stats()
    except (HullError, OSError):
        return None


def container_cgroup(sb: Sandbox | None, c: Container) -> str:
    parent = sb.cgroup_parent if sb else ""
    return f"{parent.rstrip('/')}/hull-{c.id}"


def _u64(value) -> api.UInt64Value:
    return api.UInt64Value(value=max(int(value or 0), 0))


def fill_cpu_memory(rates: CpuRates, key: str, raw: dict, cpu: api.CpuUsage,
                    memory: api.MemoryUsage, at: int) -> None:
    total = raw["cpu"]["usage"]["total"]
    cpu.timestamp = at
    cpu.usage_core_nano_seconds.CopyFrom(_u64(total))
    cpu.usage_nano_cores.CopyFrom(_u64(rates.rate(key, total, at)))
    mem = raw["memory"]
    memory.timestamp = at
    memory.working_set_bytes.CopyFrom(_u64(mem["workingSet"]))
    memory.usage_bytes.CopyFrom(_u64(mem["usage"]["usage"]))
    memory.rss_bytes.CopyFrom(_u64(mem["rss"]))
    memory.page_faults.CopyFrom(_u64(mem["pageFaults"]))
    memory.major_page_faults.CopyFrom(_u64(mem["majorPageFaults"]))
    limit = mem["usage"]["limit"]
    if 0 < limit < (1 << 62):
        memory.available_bytes.CopyFrom(_u64(limit - mem["workingSet"]))


def writable_layer(d, c: Container, at: int) -> api.FilesystemUsage:
    usage = api.FilesystemUsage(timestamp=at)
    try:
        upper = d.images.snapshot(c.id).upper
    except (HullError, OSError, AttributeError):
        upper = None
    usage.fs_id.mountpoint = str(d.images.root) if hasattr(d.images, "root") else d.config.root
    used, inodes = 0, 0
    if upper:
        for dirpath, dirnames, filenames in os.walk(upper):
            inodes += len(dirnames) + len(filenames)
            for name in filenames:
                try:
                    used += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
                except OSError:
                    pass
    usage.used_bytes.value, usage.inodes_used.value = used, inodes
    return usage


def _fill_attributes(attributes, record: Container | Sandbox) -> None:
    """ContainerAttributes or PodSandboxAttributes: the same four fields."""
    attributes.id = record.id
    attributes.metadata.CopyFrom(record.metadata)
    attributes.labels.update(record.config.labels)
    attributes.annotations.update(record.config.annotations)


def container_stats(d, sb: Sandbox | None, c: Container) -> api.ContainerStats:
    at = now_ns()
    out = api.ContainerStats()
    _fill_attributes(out.attributes, c)
    raw = cgroup_stats(container_cgroup(sb, c), c.id) if c.state is ContainerState.RUNNING \
        else None
    if raw:
        fill_cpu_memory(d.cpu_rates, c.id, raw, out.cpu, out.memory, at)
        swap = raw["memory"]["swap"]
        out.swap.timestamp = at
        out.swap.swap_usage_bytes.value = max(swap["usage"] - raw["memory"]["usage"]["usage"], 0)
    else:
        out.cpu.timestamp = out.memory.timestamp = at
    out.writable_layer.CopyFrom(writable_layer(d, c, at))
    out.io.timestamp = at
    return out


def net_dev(pid: int) -> list[dict]:
    """Interfaces (not lo) of the network namespace ``pid`` lives in."""
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return []
    found = []
    for line in lines:
        name, _, rest = line.partition(":")
        v = [int(x) for x in rest.split()]
        if name.strip() == "lo" or len(v) < 12:
            continue
        found.append({"name": name.strip(), "rx_bytes": v[0], "rx_packets": v[1],
                      "rx_errors": v[2], "rx_dropped": v[3], "tx_bytes": v[8],
                      "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]})
    return found


def network_usage(pid: int, at: int) -> api.NetworkUsage:
    usage = api.NetworkUsage(timestamp=at)
    for dev in net_dev(pid):
        iface = api.NetworkInterfaceUsage(
            name=dev["name"], rx_bytes=_u64(dev["rx_bytes"]), rx_errors=_u64(dev["rx_errors"]),
            tx_bytes=_u64(dev["tx_bytes"]), tx_errors=_u64(dev["tx_errors"]))
        if dev["name"] == "eth0":
            usage.default_interface.CopyFrom(iface)
        else:
            usage.interfaces.append(iface)
    return usage


def sandbox_stats(d, sb: Sandbox) -> api.PodSandboxStats:
    at = now_ns()
    out = api.PodSandboxStats()
    _fill_attributes(out.attributes, sb)
    linux = out.linux
    raw = cgroup_stats(sb.cgroup_parent, sb.id)
    if raw:
        fill_cpu_memory(d.cpu_rates, sb.id, raw, linux.cpu, linux.memory, at)
        linux.process.process_count.value = raw["pids"]["current"]
    linux.process.timestamp = at
    containers = d.store.containers(sb.id)
    pids = [sb.extra.get("infra_pid", 0)] + [c.pid for c in containers
                                              if c.state is ContainerState.RUNNING]
    pid = next((p for p in pids if p and os.path.exists(f"/proc/{p}")), 0)
    linux.network.CopyFrom(network_usage(pid, at) if pid and not sb.host_network
                           else api.NetworkUsage(timestamp=at))
    for c in containers:
        if c.state is ContainerState.RUNNING:
            linux.containers.append(container_stats(d, sb, c))
    linux.io.timestamp = at
    return out


def monotonic_ms() -> float:
    return time.monotonic() * 1000
