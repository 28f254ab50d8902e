"""Resource limits through prlimit(2): the ``resource`` extension module
costs a shared-library load per container for two calls."""

from __future__ import annotations


from hull.sys import ffi
from hull.sys.libc import _check, _libc

RLIM_INFINITY = (1 << 64) - 1


class _Rlimit(ffi.Structure):
    _fields_ = [("soft", ffi.c_uint64), ("hard", ffi.c_uint64)]


_libc.prlimit.argtypes = [ffi.c_int, ffi.c_int, ffi.POINTER(_Rlimit),
                          ffi.POINTER(_Rlimit)]


def _from_kernel(value: int) -> int:
    return -1 if value == RLIM_INFINITY else value


def _to_kernel(value: int) -> int:
    return RLIM_INFINITY if value < 0 or value >= RLIM_INFINITY else value


def get(resource: int) -> tuple[int, int]:
    """(soft, hard) of our own limit; -1 is unlimited."""
    old = _Rlimit()
    _check(_libc.prlimit(0, resource, None, ffi.byref(old)))
    return _from_kernel(old.soft), _from_kernel(old.hard)


def set(resource: int, soft: int, hard: int) -> None:  # noqa: A001 - mirrors setrlimit
    new = _Rlimit(_to_kernel(soft), _to_kernel(hard))
    _check(_libc.prlimit(0, resource, ffi.byref(new), None))
