"""The C types and calls hull.sys needs, from ``_ctypes`` alone.

The ``ctypes`` package builds every C type and helper in Python when
imported (with ``struct``, ``types`` and the endian structures: ~2 ms).
hull-runc pays each import on every container start, yet needs only the
handful of types below; ``_ctypes`` (the C half, over libffi) is all they
are made of. The names match ``ctypes``, so the modules read the same.
"""

from _ctypes import (FUNCFLAG_CDECL, FUNCFLAG_USE_ERRNO, POINTER, Array, CFuncPtr,  # noqa: F401
                     Structure, _SimpleCData, addressof, byref, dlopen, dlsym, get_errno,
                     sizeof)

RTLD_NOW = 2


class c_int(_SimpleCData):
    _type_ = "i"


class c_uint(_SimpleCData):
    _type_ = "I"


class c_long(_SimpleCData):
    _type_ = "l"


class c_ulong(_SimpleCData):
    _type_ = "L"


class c_uint64(_SimpleCData):
    _type_ = "Q"


class c_ubyte(_SimpleCData):
    _type_ = "B"


class c_char(_SimpleCData):
    _type_ = "c"


class c_char_p(_SimpleCData):
    _type_ = "z"


class c_void_p(_SimpleCData):
    _type_ = "P"


c_uint32 = c_uint
c_size_t = c_ulong


def create_string_buffer(init: bytes | int, size: int | None = None) -> Array:
    """As ctypes': a zeroed char array of ``size`` bytes (default: ``init`` plus
    a NUL), ``init`` copied in."""
    if isinstance(init, int):
        return (c_char * init)()
    buffer = (c_char * (len(init) + 1 if size is None else size))()
    buffer.raw = init.ljust(len(buffer), b"\0")
    return buffer


class Function(CFuncPtr):
    """A C function returning int by default, with errno saved for get_errno()."""

    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class Library:
    """A loaded shared object; its functions are attributes, bound on first use."""

    def __init__(self, name: str | None = None):
        self._handle = dlopen(name, RTLD_NOW)

    def __getattr__(self, name: str) -> Function:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            function = Function(dlsym(self._handle, name))
        except OSError as e:
            raise AttributeError(name) from e
        setattr(self, name, function)
        return function
