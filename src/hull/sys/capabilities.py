"""Linux capabilities: names, bounding/ambient sets, capset(2) v3.

Used in the container's init after the fork, so everything here is a
prctl or one syscall on pre-imported ffi. Bits are ints (bit n = cap n).
"""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull.sys import ffi
from hull.errors import InvalidArgument
from hull.sys.libc import (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_CAP_AMBIENT_RAISE,
                           PR_CAPBSET_DROP, PR_CAPBSET_READ, PR_SET_KEEPCAPS, _check, _libc,
                           prctl)

_NR = {"x86_64": (125, 126), "aarch64": (90, 91)}.get(posix.uname().machine, (125, 126))
_NR_CAPGET, _NR_CAPSET = _NR
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# index = capability number (include/uapi/linux/capability.h)
NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
_NUMBERS = {name: i for i, name in enumerate(NAMES)}

_last_cap: int | None = None


def _log():
    import logging

    return logging.getLogger("hull.sys.capabilities")


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap = int(f.read())
        except (OSError, ValueError):
            _last_cap = len(NAMES) - 1
    return _last_cap


def names() -> list[str]:
    """Every capability name hull knows, in number order."""
    return list(NAMES)


def parse(cap_names: list[str], field: str = "process.capabilities",
          grantable: int | None = None) -> int:
    """Bitmask of ``cap_names``. Unknown names raise; names this kernel lacks
    (past cap_last_cap, as runc) or that this process's own bounding set
    lacks (no process could grant them: the host withheld them from the
    runtime) are skipped with a warning instead of failing the container.
    ``grantable`` is that bounding set, when the caller has read it already
    (parsing the five sets of a process reads /proc/self/status once)."""
    mask = 0
    top = last_cap()
    if grantable is None:
        grantable = bounding()
    skipped = []
    for name in cap_names or []:
        number = _NUMBERS.get(name) if isinstance(name, str) else None
        if number is None:
            raise InvalidArgument(f"{field}: unknown capability {name!r}")
        if number > top or not grantable >> number & 1:
            skipped.append(name)
            continue
        mask |= 1 << number
    if skipped:
        _log().warning("%s: %s not available to the runtime (kernel or bounding set), "
                       "skipped", field, ", ".join(skipped))
    return mask


def bounding() -> int:
    """The calling process's bounding set: what it could ever grant."""
    try:
        return current()["bounding"]
    except (OSError, KeyError):
        return (1 << (last_cap() + 1)) - 1


def to_names(mask: int) -> list[str]:
    return [name for i, name in enumerate(NAMES) if mask >> i & 1]


def drop_bounding(keep_mask: int) -> None:
    """Drop from the bounding set every capability not in ``keep_mask``."""
    for number in range(last_cap() + 1):
        if not keep_mask >> number & 1 and prctl(PR_CAPBSET_READ, number) == 1:
            prctl(PR_CAPBSET_DROP, number)


def set_keepcaps(on: bool) -> None:
    """Keep permitted capabilities across setuid away from 0 (PR_SET_KEEPCAPS)."""
    prctl(PR_SET_KEEPCAPS, 1 if on else 0)


class _Header(ffi.Structure):
    _fields_ = [("version", ffi.c_uint32), ("pid", ffi.c_int)]


class _Data(ffi.Structure):
    _fields_ = [("effective", ffi.c_uint32), ("permitted", ffi.c_uint32),
                ("inheritable", ffi.c_uint32)]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the calling thread's three sets (capset(2), version 3: 64 bits)."""
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for half in (0, 1):
        shift = 32 * half
        data[half].effective = (effective >> shift) & 0xFFFFFFFF
        data[half].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[half].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(ffi.c_long(_NR_CAPSET), ffi.byref(header), data))


def capget() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of the calling thread."""
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    _check(_libc.syscall(ffi.c_long(_NR_CAPGET), ffi.byref(header), data))
    return tuple(getattr(data[0], k) | getattr(data[1], k) << 32
                 for k in ("effective", "permitted", "inheritable"))


def set_ambient(mask: int) -> None:
    """Make the ambient set exactly ``mask`` (each must be permitted and inheritable)."""
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for number in range(last_cap() + 1):
        if mask >> number & 1:
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, number)


def current(pid: int | str = "self") -> dict:
    """CapInh/CapPrm/CapEff/CapBnd/CapAmb of a process as ints, keys
    "inheritable", "permitted", "effective", "bounding", "ambient"."""
    keys = {"CapInh": "inheritable", "CapPrm": "permitted", "CapEff": "effective",
            "CapBnd": "bounding", "CapAmb": "ambient"}
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                out[keys[key]] = int(value.strip(), 16)
    return out
