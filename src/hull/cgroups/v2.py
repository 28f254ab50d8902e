"""cgroup v2 backend: one directory in the unified hierarchy.

OCI resources are converted as runc does (cpu.weight from shares, cpu.max
from quota/period, memory.swap.max = swap - limit, io.weight/io.max,
hugetlb.<size>.max); devices become an eBPF program attached to the
cgroup (``hull.cgroups.devices``). Controllers are delegated from the
hierarchy root down to the parent via cgroup.subtree_control.
"""

from __future__ import annotations

import time

from hull.cgroups import files
from hull.cgroups.manager import SIGKILL, Manager
from hull.cgroups.resources import (PREFIX, THROTTLE_KEYS, U64_MAX, blkio_weight_to_io_weight,
                                    check, check_before_update, limit_text, memory_swap_to_v2,
                                    shares_to_weight)
from hull.errors import DeadlineExceeded, FailedPrecondition, HullError, InvalidArgument
from hull.sys import pathname

FREEZE_TIMEOUT = 10.0


def _log():
    import logging

    return logging.getLogger("hull.cgroups")


def _default_device_filter(directory: str, rules: list[dict]) -> None:
    from hull.cgroups import devices

    devices.apply_ebpf(directory, rules)


class V2Manager(Manager):
    version = 2

    def __init__(self, path: str, *, container_id: str, root: str | None = None) -> None:
        super().__init__(container_id)
        self._path = pathname.normpath(path)
        self.root = pathname.normpath(root) if root else _mount_root(self._path)
        # replaced by tests on a fake tree, where no program can be attached
        self.device_filter = _default_device_filter

    @classmethod
    def load(cls, saved: dict) -> "V2Manager":
        return cls(saved["path"], container_id=saved.get("container_id", ""),
                   root=saved.get("root"))

    def save(self) -> dict:
        return {"version": 2, "container_id": self.container_id, "path": self._path,
                "root": self.root}

    @property
    def paths(self) -> dict[str, str]:
        return {"": self._path}

    @property
    def path(self) -> str:
        return self._path

    # --- life cycle ---
    def create(self) -> None:
        rel = pathname.relpath(self._path, self.root)
        if rel.startswith(".."):
            raise InvalidArgument(f"cannot create cgroup {self._path}: not below {self.root}")
        current = self.root
        made = []
        try:
            for part in rel.split("/") if rel != "." else []:
                _delegate(current)
                current = pathname.join(current, part)
                if files.mkdir(current):
                    made.append(current)
        except BaseException:
            for directory in reversed(made):
                files.rmdir_tree(directory)
            raise

    def apply(self, pid: int) -> None:
        files.write(self._path, "cgroup.procs", pid)

    def destroy(self) -> None:
        files.rmdir_tree(self._path)

    # --- resources ---
    def set(self, resources: dict) -> None:
        check(resources)
        writer = _Writer(self)
        writer.plan(resources)
        writer.flush()
        if resources.get("devices"):
            self.device_filter(self._path, resources["devices"])

    # --- freezer ---
    def freeze(self) -> None:
        self._require("freeze")
        files.write(self._path, "cgroup.freeze", 1)
        deadline = time.monotonic() + FREEZE_TIMEOUT
        delay = 0.001
        while not self._events_frozen():
            if time.monotonic() > deadline:
                raise DeadlineExceeded(f"cannot freeze cgroup {self._path}: still not frozen "
                                       f"after {FREEZE_TIMEOUT:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _events_frozen(self) -> bool:
        events = files.flat_keyed(files.read_optional(self._path, "cgroup.events"))
        return events.get("frozen") == 1

    def thaw(self) -> None:
        if pathname.isdir(self._path):
            files.write(self._path, "cgroup.freeze", 0)

    def can_freeze(self) -> bool:
        return files.exists(self._path, "cgroup.freeze")

    def is_frozen(self) -> bool:
        return (files.read_optional(self._path, "cgroup.freeze") or "").strip() == "1"

    def kill_all(self, sig: int = SIGKILL) -> None:
        # cgroup.kill (5.14+) kills the whole subtree at once, without a freeze
        if sig == SIGKILL and files.exists(self._path, "cgroup.kill"):
            files.write(self._path, "cgroup.kill", 1)
            return
        super().kill_all(sig)

    def stats(self) -> dict:
        from hull.cgroups import stats

        return stats.v2(self._path)


def _mount_root(path: str) -> str:
    """The cgroup2 mount point containing ``path`` (from mountinfo)."""
    from hull.cgroups.paths import detect_layout, is_within

    unified = detect_layout().unified
    if unified is None or not is_within(path, unified.mountpoint):
        raise FailedPrecondition(f"cannot open cgroup {path}: not inside a cgroup2 mount")
    return unified.mountpoint


def _delegate(directory: str) -> None:
    """Enable in ``directory``'s subtree_control every controller it has (as runc)."""
    available = (files.read_optional(directory, "cgroup.controllers") or "").split()
    enabled = set((files.read_optional(directory, "cgroup.subtree_control") or "").split())
    missing = [c for c in available if c not in enabled]
    if not missing:
        return
    try:
        files.write(directory, "cgroup.subtree_control", " ".join("+" + c for c in missing))
        return
    except HullError:
        pass   # retried one by one below
    for controller in missing:
        try:
            files.write(directory, "cgroup.subtree_control", "+" + controller)
        except HullError as e:
            # a controller we cannot enable is reported by set() when a resource needs it
            _log().debug("cannot enable %s in %s: %s", controller, directory, e)


class _Writer:
    """Collects (file, value, field) writes, checking controllers first, then writes them."""

    def __init__(self, mgr: V2Manager) -> None:
        self.mgr = mgr
        self.dir = mgr.path
        self.writes: list[tuple[str, str, str]] = []
        self._controllers: set[str] | None = None

    def need(self, controller: str, field: str) -> None:
        if self._controllers is None:
            text = files.read_optional(self.dir, "cgroup.controllers")
            if text is None:
                raise FailedPrecondition(f"{PREFIX}.{field}: cannot set it for container "
                                         f"{self.mgr.container_id}: cgroup {self.dir} "
                                         "does not exist")
            self._controllers = set(text.split())
        if controller not in self._controllers:
            raise FailedPrecondition(f"{PREFIX}.{field}: cannot set it for container "
                                     f"{self.mgr.container_id}: the {controller} controller "
                                     f"is not enabled in {self.dir}")

    def add(self, controller: str, name: str, value: object, field: str) -> None:
        self.need(controller, field)
        self.writes.append((name, str(value), f"{PREFIX}.{field}"))

    def flush(self) -> None:
        for name, value, field in self.writes:
            files.write(self.dir, name, value, field)

    def plan(self, resources: dict) -> None:
        self.memory(resources.get("memory") or {})
        self.cpu(resources.get("cpu") or {})
        limit = (resources.get("pids") or {}).get("limit")
        if limit:
            self.add("pids", "pids.max", limit if limit > 0 else "max", "pids.limit")
        self.io(resources.get("blockIO") or {})
        for i, item in enumerate(resources.get("hugepageLimits") or []):
            size = item["pageSize"]
            self.add("hugetlb", f"hugetlb.{size}.max", item["limit"], f"hugepageLimits[{i}]")
            if files.exists(self.dir, f"hugetlb.{size}.rsvd.max"):
                self.add("hugetlb", f"hugetlb.{size}.rsvd.max", item["limit"],
                         f"hugepageLimits[{i}]")
        for device, limits in (resources.get("rdma") or {}).items():
            from hull.cgroups.v1 import rdma_line

            self.add("rdma", "rdma.max", rdma_line(device, limits), f"rdma.{device}")
        if resources.get("network"):
            _log().warning("%s.network is ignored: cgroup v2 has no net_cls/net_prio", PREFIX)
        if resources.get("devices"):
            # a missing cgroup must fail before any program is built
            self.need_dir("devices")
        # unified comes last so it overrides the converted values, as in runc
        for key, value in (resources.get("unified") or {}).items():
            controller = key.split(".", 1)[0]
            if controller != "cgroup":
                self.need(controller, f"unified.{key}")
            self.writes.append((key, value, f"{PREFIX}.unified.{key}"))

    def need_dir(self, field: str) -> None:
        if not pathname.isdir(self.dir):
            raise FailedPrecondition(f"{PREFIX}.{field}: cannot set it for container "
                                     f"{self.mgr.container_id}: cgroup {self.dir} "
                                     "does not exist")

    def memory(self, memory: dict) -> None:
        if memory.get("checkBeforeUpdate"):
            check_before_update(memory, files.read_int(self.dir, "memory.current"))
        limit, swap = memory.get("limit") or 0, memory.get("swap") or 0
        swap_v2 = memory_swap_to_v2(swap, limit)
        swap_text = limit_text(swap_v2)
        if not swap_text and swap_v2 == 0 and swap > 0:
            swap_text = "0"   # memory == memory+swap: no swap at all
        if swap_text:
            if files.exists(self.dir, "memory.swap.max") or swap_text not in ("max", "0"):
                self.add("memory", "memory.swap.max", swap_text, "memory.swap")
        if limit_text(limit):
            self.add("memory", "memory.max", limit_text(limit), "memory.limit")
        if limit_text(memory.get("reservation")):
            self.add("memory", "memory.low", limit_text(memory["reservation"]),
                     "memory.reservation")
        for key in ("kernel", "kernelTCP", "disableOOMKiller"):
            if memory.get(key):
                _log().warning("%s.memory.%s is ignored on cgroup v2", PREFIX, key)
        swappiness = memory.get("swappiness")
        if swappiness is not None and swappiness not in (-1, U64_MAX):
            _log().warning("%s.memory.swappiness is ignored on cgroup v2", PREFIX)

    def cpu(self, cpu: dict) -> None:
        for key in ("realtimeRuntime", "realtimePeriod"):
            if cpu.get(key):
                raise InvalidArgument(f"{PREFIX}.cpu.{key}: realtime scheduling limits are "
                                      "not supported on cgroup v2")
        if cpu.get("shares"):
            self.add("cpu", "cpu.weight", shares_to_weight(cpu["shares"]), "cpu.shares")
        quota, period = cpu.get("quota") or 0, cpu.get("period") or 0
        if quota or period:
            text = str(quota) if quota > 0 else "max"
            if period:
                text += f" {period}"
            self.add("cpu", "cpu.max", text, "cpu.quota" if quota else "cpu.period")
        if cpu.get("burst") is not None:
            self.add("cpu", "cpu.max.burst", cpu["burst"], "cpu.burst")
        if cpu.get("idle") is not None:
            self.add("cpu", "cpu.idle", cpu["idle"], "cpu.idle")
        for key in ("cpus", "mems"):
            if cpu.get(key):
                self.add("cpuset", f"cpuset.{key}", cpu[key], f"cpu.{key}")

    def io(self, block_io: dict) -> None:
        bfq = files.exists(self.dir, "io.bfq.weight")
        if block_io.get("weight"):
            if bfq:
                self.add("io", "io.bfq.weight", block_io["weight"], "blockIO.weight")
            else:
                self.add("io", "io.weight", blkio_weight_to_io_weight(block_io["weight"]),
                         "blockIO.weight")
        if block_io.get("leafWeight"):
            _log().warning("%s.blockIO.leafWeight is ignored on cgroup v2", PREFIX)
        for i, dev in enumerate(block_io.get("weightDevice") or []):
            if dev.get("weight"):
                numbers = f"{dev['major']}:{dev['minor']}"
                if bfq:
                    self.add("io", "io.bfq.weight", f"{numbers} {dev['weight']}",
                             f"blockIO.weightDevice[{i}]")
                else:
                    self.add("io", "io.weight",
                             f"{numbers} {blkio_weight_to_io_weight(dev['weight'])}",
                             f"blockIO.weightDevice[{i}]")
        for key, (_, v2_key) in THROTTLE_KEYS.items():
            for i, dev in enumerate(block_io.get(key) or []):
                self.add("io", "io.max", f"{dev['major']}:{dev['minor']} {v2_key}={dev['rate']}",
                         f"blockIO.{key}[{i}]")
