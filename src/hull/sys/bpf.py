"""bpf(2): load, attach, detach and query cgroup device programs.

Only what the cgroup v2 device controller needs. Raises ``OSError`` with
the kernel's errno; a failed load carries the verifier log in its message.
"""

from __future__ import annotations

import os
import struct

from hull.sys import ffi
from hull.sys.libc import _check, _libc

_NR_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16

BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

_ATTR_SIZE = 128   # larger than every layout used here; the tail stays zero


def _bpf(cmd: int, attr: ffi.Array) -> int:
    return _check(_libc.syscall(ffi.c_long(_NR_BPF), ffi.c_long(cmd), attr,
                                ffi.c_uint(_ATTR_SIZE)))


def prog_load_cgroup_device(insns: bytes, name: str = "hull_devices") -> int:
    """Load a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd."""
    code = ffi.create_string_buffer(insns, len(insns))
    license_ = ffi.create_string_buffer(b"Apache")
    for log_level in (0, 1):
        log = ffi.create_string_buffer(65536 if log_level else 1)
        attr = ffi.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("<IIQQIIQII16sII", attr, 0,
                         BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                         ffi.addressof(code), ffi.addressof(license_),
                         log_level, len(log) if log_level else 0,
                         ffi.addressof(log) if log_level else 0,
                         0, 0, name.encode()[:15], 0, BPF_CGROUP_DEVICE)
        try:
            return _bpf(BPF_PROG_LOAD, attr)
        except OSError as e:
            if log_level:
                verifier = log.value.decode(errors="replace").strip()
                raise OSError(e.errno, f"{e.strerror}: {verifier[-500:]}") from None
            failure = e
    raise failure   # pragma: no cover - the loop always returns or raises


def _attach_attr(target_fd: int, prog_fd: int, flags: int) -> ffi.Array:
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIIII", attr, 0, target_fd, prog_fd, BPF_CGROUP_DEVICE, flags, 0)
    return attr


def prog_attach(cgroup_fd: int, prog_fd: int, flags: int = BPF_F_ALLOW_MULTI) -> None:
    _bpf(BPF_PROG_ATTACH, _attach_attr(cgroup_fd, prog_fd, flags))


def prog_detach(cgroup_fd: int, prog_fd: int) -> None:
    _bpf(BPF_PROG_DETACH, _attach_attr(cgroup_fd, prog_fd, 0))


def prog_query(cgroup_fd: int) -> list[int]:
    """Ids of the device programs attached directly to the cgroup."""
    count = 64
    ids = (ffi.c_uint32 * count)()
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIIIQI", attr, 0, cgroup_fd, BPF_CGROUP_DEVICE, 0, 0,
                     ffi.addressof(ids), count)
    _bpf(BPF_PROG_QUERY, attr)
    found = struct.unpack_from("<I", attr, 24)[0]
    return list(ids[:min(found, count)])


def prog_get_fd_by_id(prog_id: int) -> int:
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<III", attr, 0, prog_id, 0, 0)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr)


def open_cgroup(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
