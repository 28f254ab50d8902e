"""``update``: change a live container's cgroup limits (runc's flags or a
linux.resources JSON document)."""

from __future__ import annotations

import os

from hull import errors
from hull.oci import jsonio
from hull.oci.state import Store, lock

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40}


def parse_bytes(value: str, flag: str) -> int:
    """``512m``, ``1g``, ``-1``: like Docker's RAMInBytes."""
    text = value.strip().lower()
    if text == "-1":
        return -1
    number = text.rstrip("kmgtb")
    unit = text[len(number):]
    try:
        if unit not in _UNITS:
            raise ValueError
        return int(float(number) * _UNITS[unit])
    except ValueError:
        raise errors.InvalidArgument(f"invalid value {value!r} for --{flag}") from None


def _int(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise errors.InvalidArgument(f"invalid value {value!r} for --{flag}") from None


# flag -> (section, key, parser)
FLAGS = {
    "memory": ("memory", "limit", parse_bytes),
    "memory_reservation": ("memory", "reservation", parse_bytes),
    "memory_swap": ("memory", "swap", parse_bytes),
    "cpu_share": ("cpu", "shares", _int),
    "cpu_quota": ("cpu", "quota", _int),
    "cpu_period": ("cpu", "period", _int),
    "cpu_rt_runtime": ("cpu", "realtimeRuntime", _int),
    "cpu_rt_period": ("cpu", "realtimePeriod", _int),
    "cpuset_cpus": ("cpu", "cpus", lambda v, f: v),
    "cpuset_mems": ("cpu", "mems", lambda v, f: v),
    "blkio_weight": ("blockIO", "weight", _int),
    "pids_limit": ("pids", "limit", _int),
}


def resources_from_flags(values: dict[str, str]) -> dict:
    resources: dict = {}
    for flag, value in values.items():
        if value == "" or flag not in FLAGS:
            continue
        section, key, parser = FLAGS[flag]
        resources.setdefault(section, {})[key] = parser(value, flag.replace("_", "-"))
    return resources


def resources_from_text(text: str, source: str) -> dict:
    try:
        resources = jsonio.loads(text)
    except ValueError as e:
        raise errors.InvalidArgument(f"cannot read resources from {source}: {e}") from e
    if not isinstance(resources, dict):
        raise errors.InvalidArgument(f"cannot read resources from {source}: not an object")
    return resources


def update(store: Store, container_id: str, resources: dict) -> None:
    state = store.load(container_id)
    guard = lock(state.dir)   # the state file is rewritten: one writer at a time
    try:
        _update(store, state, container_id, resources)
    finally:
        os.close(guard)


def _update(store: Store, state, container_id: str, resources: dict) -> None:
    manager = state.cgroup_manager()
    status = state.status(manager)
    if not status.can_update():
        raise errors.FailedPrecondition(f"cannot update container {container_id}: "
                                        f"it is {status}")
    if manager is None:
        raise errors.FailedPrecondition(f"cannot update container {container_id}: "
                                        "it has no cgroup")
    manager.set(resources)
    linux = state.config.setdefault("linux", {})
    merged = linux.setdefault("resources", {})
    for section, values in resources.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section].update(values)
        else:
            merged[section] = values
    store.save(state)
