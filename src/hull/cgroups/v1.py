"""cgroup v1 backend: one directory per controller hierarchy.

Writes follow runc's fs drivers, including their orderings (memory before
or after memsw depending on the current limit; cfs period retried after
quota) because the kernel validates each write against the current state.
"""

from __future__ import annotations

import time

from hull.cgroups import files
from hull.cgroups.manager import Manager
from hull.cgroups.resources import (PREFIX, THROTTLE_KEYS, U64_MAX, check, check_before_update,
                                    device_rule_text)
from hull.errors import FailedPrecondition, Internal, InvalidArgument
from hull.sys import pathname

# controllers whose directory holds the container's processes, in order of preference
_PROCESS_VIEW = ("freezer", "devices", "memory", "pids", "cpu")


def _log():
    import logging

    return logging.getLogger("hull.cgroups")


class V1Manager(Manager):
    version = 1

    def __init__(self, paths: dict[str, str], *, container_id: str) -> None:
        super().__init__(container_id)
        self._paths = dict(paths)

    @classmethod
    def load(cls, saved: dict) -> "V1Manager":
        return cls(saved["paths"], container_id=saved.get("container_id", ""))

    def save(self) -> dict:
        return {"version": 1, "container_id": self.container_id, "paths": dict(self._paths)}

    @property
    def paths(self) -> dict[str, str]:
        return dict(self._paths)

    @property
    def path(self) -> str:
        for name in _PROCESS_VIEW:
            if name in self._paths:
                return self._paths[name]
        return next(iter(self._paths.values()))

    def _dirs(self) -> list[str]:
        # co-mounted controllers (cpu,cpuacct) share a directory: touch it once
        return list(dict.fromkeys(self._paths.values()))

    # --- life cycle ---
    def create(self) -> None:
        made = []
        try:
            for directory in self._dirs():
                if files.mkdir(directory):
                    made.append(directory)
            if "cpuset" in self._paths:
                _ensure_cpuset(self._paths["cpuset"])
        except BaseException:
            # leave nothing behind that we made (parents stay: they may be shared)
            for directory in reversed(made):
                files.rmdir_tree(directory)
            raise

    def apply(self, pid: int) -> None:
        for directory in self._dirs():
            files.write(directory, "cgroup.procs", pid)

    def destroy(self) -> None:
        for directory in self._dirs():
            files.rmdir_tree(directory)

    def _dir(self, controller: str, field: str) -> str:
        directory = self._paths.get(controller)
        if directory is None:
            raise FailedPrecondition(f"{PREFIX}.{field}: cannot set it for container "
                                     f"{self.container_id}: the {controller} cgroup "
                                     "controller is not mounted")
        return directory

    # --- resources ---
    def set(self, resources: dict) -> None:
        check(resources)
        if resources.get("unified"):
            raise InvalidArgument(f"{PREFIX}.unified: cannot be used on cgroup v1")
        for controller, field in _needed_controllers(resources):
            self._dir(controller, field)   # a missing one fails before any write
        _set_memory(self, resources.get("memory") or {})
        _set_cpu(self, resources.get("cpu") or {})
        _set_pids(self, resources.get("pids") or {})
        _set_block_io(self, resources.get("blockIO") or {})
        for i, item in enumerate(resources.get("hugepageLimits") or []):
            _set_hugepage(self, item, f"hugepageLimits[{i}]")
        if resources.get("devices"):
            directory = self._dir("devices", "devices")
            for i, rule in enumerate(resources["devices"]):
                name = "devices.allow" if rule["allow"] else "devices.deny"
                files.write(directory, name, device_rule_text(rule), f"{PREFIX}.devices[{i}]")
        _set_rdma(self, resources.get("rdma") or {})
        _set_network(self, resources.get("network") or {})

    # --- freezer ---
    def freeze(self) -> None:
        directory = self._dir("freezer", "freezer")
        self._require("freeze")
        # as runc: re-request FROZEN until the kernel reports it; thaw briefly now and
        # then so processes forking in a loop cannot keep the cgroup FREEZING forever
        for attempt in range(1000):
            if attempt % 50 == 49:
                files.write(directory, "freezer.state", "THAWED")
                time.sleep(0.01)
            files.write(directory, "freezer.state", "FROZEN")
            if attempt % 25 == 24:
                time.sleep(0.0001)
            state = files.read(directory, "freezer.state").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise Internal(f"cannot freeze cgroup {directory}: unexpected state {state}")
        raise Internal(f"cannot freeze cgroup {directory}: stuck in FREEZING")

    def can_freeze(self) -> bool:
        return "freezer" in self._paths

    def thaw(self) -> None:
        directory = self._dir("freezer", "freezer")
        if pathname.isdir(directory):
            files.write(directory, "freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        directory = self._paths.get("freezer")
        if directory is None:
            return False
        state = files.read_optional(directory, "freezer.state")
        return (state or "").strip() == "FROZEN"

    def stats(self) -> dict:
        from hull.cgroups import stats

        return stats.v1(self._paths)


def _needed_controllers(resources: dict) -> list[tuple[str, str]]:
    """(controller, field) for every resource that will be written."""
    needed = []
    memory = resources.get("memory") or {}
    if any(value is not None and value is not False for value in memory.values()):
        needed.append(("memory", "memory"))
    cpu = resources.get("cpu") or {}
    needed += [("cpuset", f"cpu.{key}") for key in ("cpus", "mems") if cpu.get(key)]
    needed += [("cpu", f"cpu.{key}") for key in ("shares", "quota", "period", "burst",
                                                 "realtimeRuntime", "realtimePeriod", "idle")
               if cpu.get(key) is not None][:1]
    if (resources.get("pids") or {}).get("limit"):
        needed.append(("pids", "pids.limit"))
    if any((resources.get("blockIO") or {}).values()):
        needed.append(("blkio", "blockIO"))
    needed += [("hugetlb", f"hugepageLimits[{i}]")
               for i, _ in enumerate(resources.get("hugepageLimits") or [])]
    if resources.get("devices"):
        needed.append(("devices", "devices"))
    needed += [("rdma", f"rdma.{device}") for device in resources.get("rdma") or {}]
    network = resources.get("network") or {}
    if network.get("classID") is not None:
        needed.append(("net_cls", "network.classID"))
    if network.get("priorities"):
        needed.append(("net_prio", "network.priorities"))
    return needed


def _ensure_cpuset(directory: str) -> None:
    """Give new cpuset cgroups their parent's cpus and mems (they start empty)."""
    chain = []
    current = directory
    while not _cpuset_filled(current):
        chain.append(current)
        current = current.rpartition("/")[0]
        if not files.exists(current, "cpuset.cpus"):
            return
    for child in reversed(chain):
        parent = child.rpartition("/")[0]
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not (files.read_optional(child, name) or "").strip():
                files.write(child, name, files.read(parent, name).strip())


def _cpuset_filled(directory: str) -> bool:
    return all((files.read_optional(directory, name) or "").strip()
               for name in ("cpuset.cpus", "cpuset.mems"))


def _set_memory(mgr: V1Manager, memory: dict) -> None:
    if not any(value is not None and value is not False for value in memory.values()):
        return   # (swappiness 0 is a value: compare by identity, 0 == False)
    directory = mgr._dir("memory", "memory")
    if memory.get("checkBeforeUpdate"):
        check_before_update(memory, files.read_int(directory, "memory.usage_in_bytes"))
    limit, swap = memory.get("limit") or 0, memory.get("swap") or 0
    has_swap_file = files.exists(directory, "memory.memsw.limit_in_bytes")
    if limit == -1 and swap == 0 and has_swap_file:
        swap = -1   # unlimited memory implies unlimited swap (runc)

    def write_limit():
        if limit:
            files.write(directory, "memory.limit_in_bytes", limit, f"{PREFIX}.memory.limit")

    def write_swap():
        if swap:
            files.write(directory, "memory.memsw.limit_in_bytes", swap, f"{PREFIX}.memory.swap")

    # the kernel requires limit <= memsw at every step, so raise memsw first when growing
    if limit and swap and (swap == -1 or files.read_int(directory, "memory.limit_in_bytes")
                           < swap):
        write_swap()
        write_limit()
    else:
        write_limit()
        write_swap()
    if memory.get("reservation"):
        files.write(directory, "memory.soft_limit_in_bytes", memory["reservation"],
                    f"{PREFIX}.memory.reservation")
    if memory.get("kernel"):
        _log().warning("%s.memory.kernel is ignored: kernel memory limits are deprecated",
                       PREFIX)
    if memory.get("kernelTCP"):
        files.write(directory, "memory.kmem.tcp.limit_in_bytes", memory["kernelTCP"],
                    f"{PREFIX}.memory.kernelTCP")
    if memory.get("disableOOMKiller"):
        files.write(directory, "memory.oom_control", 1, f"{PREFIX}.memory.disableOOMKiller")
    swappiness = memory.get("swappiness")
    if swappiness is not None and swappiness not in (-1, U64_MAX):
        files.write(directory, "memory.swappiness", swappiness, f"{PREFIX}.memory.swappiness")
    if memory.get("useHierarchy"):
        files.write(directory, "memory.use_hierarchy", 1, f"{PREFIX}.memory.useHierarchy")
    elif memory.get("useHierarchy") is False:
        _log().warning("%s.memory.useHierarchy=false is ignored: the kernel always uses "
                       "hierarchical accounting", PREFIX)


def _set_cpu(mgr: V1Manager, cpu: dict) -> None:
    for key in ("cpus", "mems"):
        if cpu.get(key):
            files.write(mgr._dir("cpuset", f"cpu.{key}"), f"cpuset.{key}", cpu[key],
                        f"{PREFIX}.cpu.{key}")
    wanted = [k for k in ("shares", "quota", "period", "burst", "realtimeRuntime",
                          "realtimePeriod", "idle") if cpu.get(k) is not None]
    if not wanted:
        return
    directory = mgr._dir("cpu", f"cpu.{wanted[0]}")
    if cpu.get("shares"):
        files.write(directory, "cpu.shares", cpu["shares"], f"{PREFIX}.cpu.shares")
        actual = files.read_int(directory, "cpu.shares")
        if actual != cpu["shares"]:
            bound = "maximum" if cpu["shares"] > actual else "minimum"
            raise InvalidArgument(f"{PREFIX}.cpu.shares: {cpu['shares']} is out of range; "
                                  f"the {bound} allowed cpu-shares is {actual}")
    _set_cfs(directory, cpu.get("quota") or 0, cpu.get("period") or 0)
    if cpu.get("burst") is not None:
        files.write(directory, "cpu.cfs_burst_us", cpu["burst"], f"{PREFIX}.cpu.burst")
    if cpu.get("realtimePeriod"):
        files.write(directory, "cpu.rt_period_us", cpu["realtimePeriod"],
                    f"{PREFIX}.cpu.realtimePeriod")
    if cpu.get("realtimeRuntime"):
        files.write(directory, "cpu.rt_runtime_us", cpu["realtimeRuntime"],
                    f"{PREFIX}.cpu.realtimeRuntime")
    if cpu.get("idle") is not None:
        files.write(directory, "cpu.idle", cpu["idle"], f"{PREFIX}.cpu.idle")


def _set_cfs(directory: str, quota: int, period: int) -> None:
    pending_period = False
    if period:
        try:
            files.write(directory, "cpu.cfs_period_us", period, f"{PREFIX}.cpu.period")
        except InvalidArgument:
            # a shorter period can break old_quota/period against the parent: retry
            # after the quota is in place (runc does the same)
            if not quota:
                raise
            pending_period = True
    if quota:
        files.write(directory, "cpu.cfs_quota_us", quota if quota > 0 else -1,
                    f"{PREFIX}.cpu.quota")
        if pending_period:
            files.write(directory, "cpu.cfs_period_us", period, f"{PREFIX}.cpu.period")


def _set_pids(mgr: V1Manager, pids: dict) -> None:
    limit = pids.get("limit")
    if not limit:
        return   # 0 or absent: unset, as in runc
    directory = mgr._dir("pids", "pids.limit")
    files.write(directory, "pids.max", limit if limit > 0 else "max", f"{PREFIX}.pids.limit")


def _set_block_io(mgr: V1Manager, block_io: dict) -> None:
    if not any(block_io.get(k) for k in block_io):
        return
    directory = mgr._dir("blkio", "blockIO")
    bfq = files.exists(directory, "blkio.bfq.weight")
    weight_file = "blkio.bfq.weight" if bfq else "blkio.weight"
    weight_device_file = "blkio.bfq.weight_device" if bfq else "blkio.weight_device"
    if block_io.get("weight"):
        files.write(directory, weight_file, block_io["weight"], f"{PREFIX}.blockIO.weight")
    # leaf weights exist only with CFQ, which left the kernel in 5.0: ignore them elsewhere
    leaf = files.exists(directory, "blkio.leaf_weight")
    if block_io.get("leafWeight"):
        if leaf:
            files.write(directory, "blkio.leaf_weight", block_io["leafWeight"],
                        f"{PREFIX}.blockIO.leafWeight")
        else:
            _log().warning("%s.blockIO.leafWeight is ignored: no CFQ scheduler", PREFIX)
    for i, dev in enumerate(block_io.get("weightDevice") or []):
        field = f"{PREFIX}.blockIO.weightDevice[{i}]"
        numbers = f"{dev['major']}:{dev['minor']}"
        if dev.get("weight"):
            files.write(directory, weight_device_file, f"{numbers} {dev['weight']}", field)
        if dev.get("leafWeight") and leaf:
            files.write(directory, "blkio.leaf_weight_device", f"{numbers} {dev['leafWeight']}",
                        field)
    for key, (name, _) in THROTTLE_KEYS.items():
        for i, dev in enumerate(block_io.get(key) or []):
            files.write(directory, name, f"{dev['major']}:{dev['minor']} {dev['rate']}",
                        f"{PREFIX}.blockIO.{key}[{i}]")


def _set_hugepage(mgr: V1Manager, item: dict, field: str) -> None:
    directory = mgr._dir("hugetlb", field)
    size = item["pageSize"]
    files.write(directory, f"hugetlb.{size}.limit_in_bytes", item["limit"], f"{PREFIX}.{field}")
    if files.exists(directory, f"hugetlb.{size}.rsvd.limit_in_bytes"):
        files.write(directory, f"hugetlb.{size}.rsvd.limit_in_bytes", item["limit"],
                    f"{PREFIX}.{field}")


def rdma_line(device: str, limits: dict) -> str:
    handles = limits.get("hcaHandles")
    objects = limits.get("hcaObjects")
    return (f"{device} hca_handle={'max' if handles is None else handles} "
            f"hca_object={'max' if objects is None else objects}")


def _set_rdma(mgr: V1Manager, rdma: dict) -> None:
    for device, limits in rdma.items():
        directory = mgr._dir("rdma", f"rdma.{device}")
        files.write(directory, "rdma.max", rdma_line(device, limits), f"{PREFIX}.rdma.{device}")


def _set_network(mgr: V1Manager, network: dict) -> None:
    if network.get("classID") is not None:
        files.write(mgr._dir("net_cls", "network.classID"), "net_cls.classid",
                    network["classID"], f"{PREFIX}.network.classID")
    for i, prio in enumerate(network.get("priorities") or []):
        field = f"network.priorities[{i}]"
        files.write(mgr._dir("net_prio", field), "net_prio.ifpriomap",
                    f"{prio['name']} {prio['priority']}", f"{PREFIX}.{field}")
