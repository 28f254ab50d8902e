"""Argument checks every handler runs before it touches anything.

csi-sanity sends each RPC with one required field missing at a time and
expects INVALID_ARGUMENT, so these run first and name the field. They
work on the generated request messages and raise hull.errors categories.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from hull.errors import InvalidArgument, OutOfRange

MAX_NAME_BYTES = 128
FS_TYPES = ("ext4", "xfs")
# control characters other than tab, LF and CR (C0, DEL, C1)
_BANNED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# AccessMode.Mode numbers (csi.proto)
SINGLE_NODE_WRITER = 1
SINGLE_NODE_READER_ONLY = 2
MULTI_NODE_READER_ONLY = 3
MULTI_NODE_SINGLE_WRITER = 4
MULTI_NODE_MULTI_WRITER = 5
SINGLE_NODE_SINGLE_WRITER = 6
SINGLE_NODE_MULTI_WRITER = 7
MODE_NAMES = {
    1: "SINGLE_NODE_WRITER", 2: "SINGLE_NODE_READER_ONLY", 3: "MULTI_NODE_READER_ONLY",
    4: "MULTI_NODE_SINGLE_WRITER", 5: "MULTI_NODE_MULTI_WRITER",
    6: "SINGLE_NODE_SINGLE_WRITER", 7: "SINGLE_NODE_MULTI_WRITER",
}
MULTI_PUBLISH_MODES = {MULTI_NODE_READER_ONLY, MULTI_NODE_SINGLE_WRITER,
                       MULTI_NODE_MULTI_WRITER, SINGLE_NODE_MULTI_WRITER}
READ_ONLY_MODES = {SINGLE_NODE_READER_ONLY, MULTI_NODE_READER_ONLY}


@dataclass(frozen=True)
class Capability:
    """A VolumeCapability reduced to what the driver acts on."""
    block: bool
    mode: int
    fs_type: str = ""
    mount_flags: tuple[str, ...] = ()

    @property
    def mode_name(self) -> str:
        return MODE_NAMES.get(self.mode, str(self.mode))


def require(value, field: str, rpc: str) -> None:
    if not value:
        raise InvalidArgument(f"cannot {rpc}: {field} missing in request")


def name(value: str, field: str, rpc: str) -> str:
    require(value, field, rpc)
    if len(value.encode()) > MAX_NAME_BYTES:
        raise InvalidArgument(f"cannot {rpc}: {field} is longer than {MAX_NAME_BYTES} bytes")
    if _BANNED.search(value):
        raise InvalidArgument(f"cannot {rpc}: {field} contains a control character")
    return value


def capability(cap, rpc: str) -> Capability:
    """Check one VolumeCapability message: access type and mode are required."""
    kind = cap.WhichOneof("access_type")
    if kind is None:
        raise InvalidArgument(f"cannot {rpc}: volume capability has no access type "
                              f"(block or mount)")
    mode = cap.access_mode.mode  # 0 when access_mode is unset
    if mode == 0:
        raise InvalidArgument(f"cannot {rpc}: volume capability has no access mode")
    if mode not in MODE_NAMES:
        raise InvalidArgument(f"cannot {rpc}: unknown access mode {mode}")
    if kind == "block":
        return Capability(block=True, mode=mode)
    mount = cap.mount
    fs = mount.fs_type
    if fs and fs not in FS_TYPES:
        raise InvalidArgument(f"cannot {rpc}: fs type {fs!r} is not supported "
                              f"(supported: {', '.join(FS_TYPES)})")
    flags = mount.mount_flags
    return Capability(block=False, mode=mode, fs_type=fs,
                      mount_flags=tuple(flags) if flags else ())  # tuple() of an empty field: ~1 us


def capabilities(caps, rpc: str) -> list[Capability]:
    if not caps:
        raise InvalidArgument(f"cannot {rpc}: volume capabilities missing in request")
    return [capability(c, rpc) for c in caps]


def path(value: str, field: str, rpc: str) -> str:
    """An absolute path without ``..``: the CO's paths, never ours to choose."""
    require(value, field, rpc)
    if "\0" in value:
        raise InvalidArgument(f"cannot {rpc}: {field} contains a NUL byte")
    if not os.path.isabs(value):
        raise InvalidArgument(f"cannot {rpc}: {field} {value!r} is not an absolute path")
    if ".." in value.split("/"):
        raise InvalidArgument(f"cannot {rpc}: {field} {value!r} contains '..'")
    return os.path.normpath(value)


def under(value: str, roots: tuple[str, ...], field: str, rpc: str) -> None:
    """Refuse a path outside the allowed roots (when roots are configured)."""
    if not roots:
        return
    real = os.path.realpath(value)
    if not any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots):
        raise InvalidArgument(f"cannot {rpc}: {field} {value!r} is outside the allowed "
                              f"roots ({', '.join(roots)})")


def capacity(capacity_range, default: int, minimum: int, align: int, maximum: int,
             rpc: str) -> int:
    """The size to provision for a CapacityRange (None or unset means default)."""
    required = capacity_range.required_bytes if capacity_range is not None else 0
    limit = capacity_range.limit_bytes if capacity_range is not None else 0
    if required < 0 or limit < 0:
        raise InvalidArgument(f"cannot {rpc}: capacity range must not be negative")
    if limit and required > limit:
        raise InvalidArgument(f"cannot {rpc}: required_bytes {required} exceeds "
                              f"limit_bytes {limit}")
    size = required or (min(default, limit) if limit else default)
    size = max(size, minimum)
    size = -(-size // align) * align
    if limit and size > limit:  # rounding up overshot: round down if that still fits
        down = limit // align * align
        size = down if down >= max(required, minimum) else size
    if limit and size > limit:
        raise OutOfRange(f"cannot {rpc}: the smallest volume this backend can make is "
                         f"{size} bytes, above limit_bytes {limit}")
    if size > maximum:
        raise OutOfRange(f"cannot {rpc}: {size} bytes is more than the backend can hold "
                         f"({maximum} bytes)")
    return size


def fits(capacity_range, size: int) -> bool:
    """Does an existing volume of ``size`` bytes satisfy this range?"""
    if capacity_range is None:
        return True
    if capacity_range.required_bytes and size < capacity_range.required_bytes:
        return False
    return not (capacity_range.limit_bytes and size > capacity_range.limit_bytes)
