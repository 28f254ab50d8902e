"""Cgroup usage counters, one shape for v1 and v2.

The shape is runc's ``events --stats`` "data" object (keys and units), with
every key always present, plus a few fields the CRI's ContainerStats needs
that runc leaves in ``memory.raw``::

    {
      "cpu": {
        "usage": {"total": ns, "kernel": ns, "user": ns,
                  "percpu": [ns, ...], "percpu_kernel": [...], "percpu_user": [...]},
        "throttling": {"periods": n, "throttledPeriods": n, "throttledTime": ns}
      },
      "cpuset": {"cpus": [int, ...], "mems": [int, ...]},
      "memory": {
        "usage":     {"usage": bytes, "max": bytes, "limit": bytes, "failcnt": n},
        "swap":      {...same...},      # v1: memory+swap, as memsw; v2: likewise summed
        "kernel":    {...same...},      # v1 only (kmem); zeros on v2
        "kernelTCP": {...same...},
        "cache": bytes, "rss": bytes,
        "workingSet": bytes,            # usage - inactive_file, never below 0
        "pageFaults": n, "majorPageFaults": n,
        "oomEvents": n, "oomKillEvents": n,
        "raw": {memory.stat key: int}
      },
      "pids": {"current": n, "limit": n},          # limit 0 = unlimited
      "blkio": {"ioServiceBytesRecursive": [entry], "ioServicedRecursive": [entry]},
      "hugetlb": {"2MB": {"usage": bytes, "max": bytes, "failcnt": n}}
    }

where ``entry`` is {"major", "minor", "op" ("Read", "Write", "Sync", "Async",
"Discard", "Total"), "value"}. A limit of "max" reads as 2**64-1, as runc.
"""

from __future__ import annotations

import os

from hull.cgroups import files
from hull.cgroups.resources import U64_MAX, parse_cpu_list

NS_PER_USEC = 1000
# cpuacct.stat counts USER_HZ ticks, 100 per second on every Linux ABI
NS_PER_TICK = 10_000_000


def empty() -> dict:
    entry = {"usage": 0, "max": 0, "limit": 0, "failcnt": 0}
    return {
        "cpu": {"usage": {"total": 0, "kernel": 0, "user": 0, "percpu": [],
                          "percpu_kernel": [], "percpu_user": []},
                "throttling": {"periods": 0, "throttledPeriods": 0, "throttledTime": 0}},
        "cpuset": {"cpus": [], "mems": []},
        "memory": {"usage": dict(entry), "swap": dict(entry), "kernel": dict(entry),
                   "kernelTCP": dict(entry), "cache": 0, "rss": 0, "workingSet": 0,
                   "pageFaults": 0, "majorPageFaults": 0, "oomEvents": 0,
                   "oomKillEvents": 0, "raw": {}},
        "pids": {"current": 0, "limit": 0},
        "blkio": {"ioServiceBytesRecursive": [], "ioServicedRecursive": []},
        "hugetlb": {},
    }


def _limit(text: str | None) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    return U64_MAX if text == "max" else int(text)


def _ints(text: str | None) -> list[int]:
    return [int(v) for v in (text or "").split()]


def _cpus(text: str | None) -> list[int]:
    return sorted(parse_cpu_list(text or "", "cpuset"))


def _fill_memory_derived(memory: dict, raw: dict, prefix: str,
                         cache_key: str, rss_key: str) -> None:
    memory["raw"] = raw
    memory["cache"] = raw.get(prefix + cache_key, 0)
    memory["rss"] = raw.get(prefix + rss_key, 0)
    inactive = raw.get(prefix + "inactive_file", 0)
    memory["workingSet"] = max(memory["usage"]["usage"] - inactive, 0)
    memory["pageFaults"] = raw.get(prefix + "pgfault", 0)
    memory["majorPageFaults"] = raw.get(prefix + "pgmajfault", 0)


# --- v1 ---

def v1(paths: dict[str, str]) -> dict:
    out = empty()
    cpuacct = paths.get("cpuacct")
    if cpuacct:
        _v1_cpuacct(cpuacct, out["cpu"]["usage"])
    if paths.get("cpu"):
        cpu_stat = files.flat_keyed(files.read_optional(paths["cpu"], "cpu.stat"))
        out["cpu"]["throttling"] = {"periods": cpu_stat.get("nr_periods", 0),
                                    "throttledPeriods": cpu_stat.get("nr_throttled", 0),
                                    "throttledTime": cpu_stat.get("throttled_time", 0)}
    if paths.get("cpuset"):
        out["cpuset"] = {"cpus": _cpus(files.read_optional(paths["cpuset"], "cpuset.cpus")),
                         "mems": _cpus(files.read_optional(paths["cpuset"], "cpuset.mems"))}
    if paths.get("memory"):
        _v1_memory(paths["memory"], out["memory"])
    if paths.get("pids"):
        out["pids"] = {"current": files.read_int(paths["pids"], "pids.current"),
                       "limit": files.read_int(paths["pids"], "pids.max")}
    if paths.get("blkio"):
        out["blkio"] = _v1_blkio(paths["blkio"])
    if paths.get("hugetlb"):
        out["hugetlb"] = _v1_hugetlb(paths["hugetlb"])
    return out


def _v1_cpuacct(directory: str, usage: dict) -> None:
    usage["total"] = files.read_int(directory, "cpuacct.usage")
    usage["percpu"] = _ints(files.read_optional(directory, "cpuacct.usage_percpu"))
    usage["percpu_kernel"] = _ints(files.read_optional(directory, "cpuacct.usage_percpu_sys"))
    usage["percpu_user"] = _ints(files.read_optional(directory, "cpuacct.usage_percpu_user"))
    if files.exists(directory, "cpuacct.usage_user"):
        usage["user"] = files.read_int(directory, "cpuacct.usage_user")
        usage["kernel"] = files.read_int(directory, "cpuacct.usage_sys")
    else:
        ticks = files.flat_keyed(files.read_optional(directory, "cpuacct.stat"))
        usage["user"] = ticks.get("user", 0) * NS_PER_TICK
        usage["kernel"] = ticks.get("system", 0) * NS_PER_TICK


def _v1_memory_entry(directory: str, prefix: str) -> dict:
    return {"usage": files.read_int(directory, prefix + "usage_in_bytes"),
            "max": files.read_int(directory, prefix + "max_usage_in_bytes"),
            "limit": files.read_int(directory, prefix + "limit_in_bytes"),
            "failcnt": files.read_int(directory, prefix + "failcnt")}


def _v1_memory(directory: str, memory: dict) -> None:
    memory["usage"] = _v1_memory_entry(directory, "memory.")
    memory["swap"] = _v1_memory_entry(directory, "memory.memsw.")
    memory["kernel"] = _v1_memory_entry(directory, "memory.kmem.")
    memory["kernelTCP"] = _v1_memory_entry(directory, "memory.kmem.tcp.")
    raw = files.flat_keyed(files.read_optional(directory, "memory.stat"))
    _fill_memory_derived(memory, raw, "total_", "cache", "rss")
    oom = files.flat_keyed(files.read_optional(directory, "memory.oom_control"))
    memory["oomKillEvents"] = oom.get("oom_kill", 0)
    # v1 counts no OOM events apart from kills; the failcnt is the nearest sign
    memory["oomEvents"] = oom.get("oom_kill", 0)


def parse_blkio(text: str | None) -> list[dict]:
    """blkio "8:0 Read 4096" lines (the trailing "Total N" line is skipped)."""
    entries = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        entries.append({"major": int(major), "minor": int(minor), "op": parts[1],
                        "value": int(parts[2])})
    return entries


def _v1_blkio(directory: str) -> dict:
    out = {"ioServiceBytesRecursive": [], "ioServicedRecursive": []}
    # CFQ's files first, then BFQ's, then the throttle layer's (which counts every device)
    for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
        service_bytes = parse_blkio(files.read_optional(
            directory, prefix + "io_service_bytes_recursive"))
        if service_bytes:
            out["ioServiceBytesRecursive"] = service_bytes
            out["ioServicedRecursive"] = parse_blkio(files.read_optional(
                directory, prefix + "io_serviced_recursive"))
            break
    return out


def _hugetlb_sizes(directory: str, suffix: str) -> list[str]:
    """The page sizes ("2MB", "1GB") that have a ``hugetlb.<size><suffix>`` file;
    the reservation counters (``.rsvd.``) are left out."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [name[len("hugetlb."):-len(suffix)] for name in names
            if name.startswith("hugetlb.") and name.endswith(suffix) and ".rsvd." not in name]


def _v1_hugetlb(directory: str) -> dict:
    out = {}
    for size in _hugetlb_sizes(directory, ".usage_in_bytes"):
        out[size] = {"usage": files.read_int(directory, f"hugetlb.{size}.usage_in_bytes"),
                     "max": files.read_int(directory, f"hugetlb.{size}.max_usage_in_bytes"),
                     "failcnt": files.read_int(directory, f"hugetlb.{size}.failcnt")}
    return out


# --- v2 ---

def v2(directory: str) -> dict:
    out = empty()
    cpu_stat = files.flat_keyed(files.read_optional(directory, "cpu.stat"))
    usage = out["cpu"]["usage"]
    usage["total"] = cpu_stat.get("usage_usec", 0) * NS_PER_USEC
    usage["user"] = cpu_stat.get("user_usec", 0) * NS_PER_USEC
    usage["kernel"] = cpu_stat.get("system_usec", 0) * NS_PER_USEC
    out["cpu"]["throttling"] = {"periods": cpu_stat.get("nr_periods", 0),
                                "throttledPeriods": cpu_stat.get("nr_throttled", 0),
                                "throttledTime": cpu_stat.get("throttled_usec", 0) * NS_PER_USEC}
    out["cpuset"] = {
        "cpus": _cpus(files.read_optional(directory, "cpuset.cpus.effective")),
        "mems": _cpus(files.read_optional(directory, "cpuset.mems.effective"))}
    _v2_memory(directory, out["memory"])
    out["pids"] = {"current": files.read_int(directory, "pids.current"),
                   "limit": files.read_int(directory, "pids.max")}
    out["blkio"] = parse_io_stat(files.read_optional(directory, "io.stat"))
    out["hugetlb"] = _v2_hugetlb(directory)
    return out


def _v2_memory(directory: str, memory: dict) -> None:
    events = files.flat_keyed(files.read_optional(directory, "memory.events"))
    current = files.read_int(directory, "memory.current")
    limit = _limit(files.read_optional(directory, "memory.max")) or U64_MAX
    memory["usage"] = {"usage": current, "max": files.read_int(directory, "memory.peak"),
                       "limit": limit, "failcnt": events.get("max", 0)}
    swap_text = files.read_optional(directory, "memory.swap.max")
    if swap_text is not None:
        swap_limit = _limit(swap_text)
        # as runc: report swap like v1's memsw, i.e. memory plus swap
        memory["swap"] = {
            "usage": current + files.read_int(directory, "memory.swap.current"),
            "max": 0,
            "limit": U64_MAX if U64_MAX in (swap_limit, limit) else swap_limit + limit,
            "failcnt": 0}
    raw = files.flat_keyed(files.read_optional(directory, "memory.stat"))
    _fill_memory_derived(memory, raw, "", "file", "anon")
    memory["oomEvents"] = events.get("oom", 0)
    memory["oomKillEvents"] = events.get("oom_kill", 0)


def parse_io_stat(text: str | None) -> dict:
    """io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" lines."""
    ops = {"rbytes": ("ioServiceBytesRecursive", "Read"),
           "wbytes": ("ioServiceBytesRecursive", "Write"),
           "dbytes": ("ioServiceBytesRecursive", "Discard"),
           "rios": ("ioServicedRecursive", "Read"),
           "wios": ("ioServicedRecursive", "Write"),
           "dios": ("ioServicedRecursive", "Discard")}
    out = {"ioServiceBytesRecursive": [], "ioServicedRecursive": []}
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        for pair in parts[1:]:
            key, _, value = pair.partition("=")
            if key in ops and value.isdigit():
                kind, op = ops[key]
                out[kind].append({"major": int(major), "minor": int(minor), "op": op,
                                  "value": int(value)})
    return out


def _v2_hugetlb(directory: str) -> dict:
    out = {}
    for size in _hugetlb_sizes(directory, ".current"):
        events = files.flat_keyed(files.read_optional(directory, f"hugetlb.{size}.events"))
        out[size] = {"usage": files.read_int(directory, f"hugetlb.{size}.current"), "max": 0,
                     "failcnt": events.get("max", 0)}
    return out
