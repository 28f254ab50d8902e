"""Validation of OCI ``linux.resources``, before any file is written.

``check(resources)`` raises InvalidArgument naming the first bad field
("linux.resources.memory.limit: ..."), so a bad config never leaves a
half-applied cgroup behind. Conversions shared by the v2 backend (runc's
and crun's formulas) live here too.
"""

from __future__ import annotations

from hull.errors import InvalidArgument

PREFIX = "linux.resources"
U64_MAX = (1 << 64) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def _bad(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"{PREFIX}.{field}: {why}")


def _int(obj: dict, key: str, field: str, lo: int = I64_MIN, hi: int = U64_MAX) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(field, f"must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise _bad(field, f"{value} is out of range [{lo}, {hi}]")
    return value


def _bool(obj: dict, key: str, field: str) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise _bad(field, f"must be true or false, not {value!r}")


def _dict(obj: dict, key: str, field: str) -> dict:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(field, f"must be an object, not {type(value).__name__}")
    return value


def _list(obj: dict, key: str, field: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(field, f"must be an array, not {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _bad(f"{field}[{i}]", "must be an object")
    return value


def check(resources: dict) -> None:
    if not isinstance(resources, dict):
        raise InvalidArgument(f"{PREFIX}: must be an object")
    _check_memory(_dict(resources, "memory", "memory"))
    _check_cpu(_dict(resources, "cpu", "cpu"))
    _int(_dict(resources, "pids", "pids"), "limit", "pids.limit", I64_MIN, I64_MAX)
    _check_block_io(_dict(resources, "blockIO", "blockIO"))
    _check_hugepages(_list(resources, "hugepageLimits", "hugepageLimits"))
    check_devices(_list(resources, "devices", "devices"))
    _check_unified(_dict(resources, "unified", "unified"))
    _check_rdma(_dict(resources, "rdma", "rdma"))
    _check_network(_dict(resources, "network", "network"))


def _check_memory(memory: dict) -> None:
    for key in ("limit", "reservation", "swap", "kernel", "kernelTCP"):
        value = _int(memory, key, f"memory.{key}", I64_MIN, I64_MAX)
        if value is not None and value < -1:
            raise _bad(f"memory.{key}", f"{value} is negative (only -1, unlimited, is allowed)")
    swappiness = _int(memory, "swappiness", "memory.swappiness", -1, U64_MAX)
    if swappiness is not None and 100 < swappiness < U64_MAX:
        raise _bad("memory.swappiness", f"{swappiness} is out of range [0, 100]")
    for key in ("disableOOMKiller", "useHierarchy", "checkBeforeUpdate"):
        _bool(memory, key, f"memory.{key}")
    limit, swap = memory.get("limit") or 0, memory.get("swap") or 0
    if limit > 0 and swap > 0 and swap < limit:
        raise _bad("memory.swap", f"memory+swap limit {swap} must be >= memory limit {limit}")


def _check_cpu(cpu: dict) -> None:
    _int(cpu, "shares", "cpu.shares", 0)
    _int(cpu, "quota", "cpu.quota", I64_MIN, I64_MAX)
    _int(cpu, "period", "cpu.period", 0)
    _int(cpu, "burst", "cpu.burst", 0)
    _int(cpu, "realtimeRuntime", "cpu.realtimeRuntime", I64_MIN, I64_MAX)
    _int(cpu, "realtimePeriod", "cpu.realtimePeriod", 0)
    idle = _int(cpu, "idle", "cpu.idle", I64_MIN, I64_MAX)
    if idle is not None and idle not in (0, 1):
        raise _bad("cpu.idle", f"{idle} must be 0 or 1")
    for key in ("cpus", "mems"):
        value = cpu.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise _bad(f"cpu.{key}", f"must be a string, not {value!r}")
            parse_cpu_list(value, f"cpu.{key}")


def parse_cpu_list(text: str, field: str) -> set[int]:
    """A list like "0-3,5"; raises naming ``field`` when malformed."""
    found: set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise _bad(field, f"{text!r} is not a list like \"0-3,5\"")
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first:
            raise _bad(field, f"{text!r}: range {part} is reversed")
        found.update(range(first, last + 1))
    return found


def _check_block_io(block_io: dict) -> None:
    _int(block_io, "weight", "blockIO.weight", 0, 0xFFFF)
    _int(block_io, "leafWeight", "blockIO.leafWeight", 0, 0xFFFF)
    for i, dev in enumerate(_list(block_io, "weightDevice", "blockIO.weightDevice")):
        field = f"blockIO.weightDevice[{i}]"
        _device_numbers(dev, field)
        _int(dev, "weight", f"{field}.weight", 0, 0xFFFF)
        _int(dev, "leafWeight", f"{field}.leafWeight", 0, 0xFFFF)
    for key in THROTTLE_KEYS:
        for i, dev in enumerate(_list(block_io, key, f"blockIO.{key}")):
            field = f"blockIO.{key}[{i}]"
            _device_numbers(dev, field)
            if _int(dev, "rate", f"{field}.rate", 0) is None:
                raise _bad(f"{field}.rate", "is required")


# OCI key -> (v1 file, v2 io.max key)
THROTTLE_KEYS = {
    "throttleReadBpsDevice": ("blkio.throttle.read_bps_device", "rbps"),
    "throttleWriteBpsDevice": ("blkio.throttle.write_bps_device", "wbps"),
    "throttleReadIOPSDevice": ("blkio.throttle.read_iops_device", "riops"),
    "throttleWriteIOPSDevice": ("blkio.throttle.write_iops_device", "wiops"),
}


def _device_numbers(dev: dict, field: str) -> None:
    for key in ("major", "minor"):
        if _int(dev, key, f"{field}.{key}", 0, I64_MAX) is None:
            raise _bad(f"{field}.{key}", "is required")


def _check_hugepages(limits: list) -> None:
    for i, item in enumerate(limits):
        field = f"hugepageLimits[{i}]"
        size = item.get("pageSize")
        if not isinstance(size, str) or page_size_bytes(size) is None:
            raise _bad(f"{field}.pageSize", f"{size!r} is not a page size like \"2MB\"")
        if _int(item, "limit", f"{field}.limit", 0) is None:
            raise _bad(f"{field}.limit", "is required")


def page_size_bytes(size: str) -> int | None:
    units = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
    number, unit = size[:-2], size[-2:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        return None
    return int(number) * units[unit]


def check_devices(rules: list) -> None:
    for i, rule in enumerate(rules):
        field = f"devices[{i}]"
        if not isinstance(rule.get("allow"), bool):
            raise _bad(f"{field}.allow", f"must be true or false, not {rule.get('allow')!r}")
        kind = rule.get("type", "a")
        if kind not in ("a", "b", "c"):
            raise _bad(f"{field}.type", f"{kind!r} is not one of a, b, c")
        for key in ("major", "minor"):
            _int(rule, key, f"{field}.{key}", -1, I64_MAX)
        access = rule.get("access", "rwm")
        if not isinstance(access, str) or any(ch not in "rwm" for ch in access):
            raise _bad(f"{field}.access", f"{access!r} is not a combination of r, w, m")


def _check_unified(unified: dict) -> None:
    for key, value in unified.items():
        field = f"unified.{key}"
        if not isinstance(value, str):
            raise _bad(field, f"must be a string, not {value!r}")
        if "/" in key or key in (".", "..") or "." not in key.strip("."):
            raise _bad(field, "must be a file name like CONTROLLER.PARAMETER")
        if key in ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control"):
            raise _bad(field, "is managed by the runtime and cannot be set")


def _check_rdma(rdma: dict) -> None:
    for device, limits in rdma.items():
        if not isinstance(limits, dict):
            raise _bad(f"rdma.{device}", "must be an object")
        _int(limits, "hcaHandles", f"rdma.{device}.hcaHandles", 0, 0xFFFFFFFF)
        _int(limits, "hcaObjects", f"rdma.{device}.hcaObjects", 0, 0xFFFFFFFF)


def _check_network(network: dict) -> None:
    _int(network, "classID", "network.classID", 0, 0xFFFFFFFF)
    for i, prio in enumerate(_list(network, "priorities", "network.priorities")):
        if not isinstance(prio.get("name"), str) or not prio["name"]:
            raise _bad(f"network.priorities[{i}].name", "must be an interface name")
        if _int(prio, "priority", f"network.priorities[{i}].priority", 0, 0xFFFFFFFF) is None:
            raise _bad(f"network.priorities[{i}].priority", "is required")


def check_before_update(memory: dict, usage: int) -> None:
    """memory.checkBeforeUpdate: refuse a limit below what the cgroup uses now."""
    limit = memory.get("limit") or 0
    if memory.get("checkBeforeUpdate") and limit > 0 and usage > limit:
        raise _bad("memory.limit", f"new limit {limit} is below the current usage {usage} "
                   "(checkBeforeUpdate is set)")


# --- conversions to cgroup v2 values (runc libcontainer/cgroups/utils.go) ---

def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000]; 0 means unset."""
    if shares == 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000]; 0 means unset."""
    if weight == 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


def memory_swap_to_v2(swap: int, memory: int) -> int:
    """OCI memory.swap is memory+swap (v1 memsw); v2's memory.swap.max is swap alone.

    Returns -1 for "max" and 0 for "leave unset", as runc does.
    """
    if memory == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if memory == 0:
        raise _bad("memory.swap", "cannot set a swap limit without a memory limit")
    if memory < 0:
        raise _bad("memory.limit", f"invalid memory value {memory}")
    if swap < memory:
        raise _bad("memory.swap", f"memory+swap limit {swap} must be >= memory limit {memory}")
    return swap - memory


def limit_text(value: int | None) -> str:
    """0/None -> "" (unset), -1 -> "max", else the number."""
    if not value:
        return ""
    return "max" if value == -1 else str(value)


def device_rule_text(rule: dict) -> str:
    """v1 devices.allow/deny line: "c 1:3 rwm", wildcards as "*"."""
    kind = rule.get("type", "a")
    if kind == "a":
        # the kernel reads type "a" as "every device, every access" and resets its list
        return "a"
    major = rule.get("major")
    minor = rule.get("minor")
    major = "*" if major is None or major == -1 else str(major)
    minor = "*" if minor is None or minor == -1 else str(minor)
    return f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}"
