"""Network namespaces: do work inside one, and create named ones for tests.

setns(2) changes only the calling thread, so work inside a namespace runs
on a dedicated thread that is thrown away afterwards; the caller's thread
never changes namespace. A netlink socket keeps the namespace it was
created in, so ``NetNS.netlink()`` hands back a socket usable from any
thread: the common case costs one short-lived thread.

Named namespaces live as bind mounts under /run/netns, as iproute2 makes
them (``ip netns add``), so both tools see the same ones.
"""

from __future__ import annotations

import os

# _thread, not threading: the plugins pay for every import on each pod start.
import _thread

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"
MNT_DETACH = 2
MS_BIND = 0x1000


def _bind_setns():
    """libc's setns(2) through ``_ctypes`` alone, with the one C type it needs:
    a plugin start pays for every class built at import, and ``hull.sys.ffi``
    builds ten (~0.45 ms), the ``ctypes`` package every type there is."""
    import _ctypes

    class c_int(_ctypes._SimpleCData):
        _type_ = "i"

    class LibcFunction(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = c_int

    function = LibcFunction(_ctypes.dlsym(_ctypes.dlopen(None, 2), "setns"))   # RTLD_NOW
    function.argtypes = [c_int, c_int]
    return function, _ctypes.get_errno


_setns, _get_errno = _bind_setns()


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    if _setns(fd, nstype) == -1:
        err = _get_errno()
        raise OSError(err, os.strerror(err))


def run_in_thread(fn, *args):
    """Run ``fn(*args)`` on a fresh thread and return its result or raise its exception."""
    box: dict = {}
    done = _thread.allocate_lock()
    done.acquire()

    def body():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # re-raised on the caller's thread
            box["error"] = e
        finally:
            done.release()

    _thread.start_new_thread(body, ())
    done.acquire()
    if "error" in box:
        raise box["error"]
    return box.get("value")


class NetNS:
    """An open network namespace: ``with NetNS(path) as ns: ns.run(fn)``."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "NetNS":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def enter_current_thread(self) -> None:
        """Move the calling thread into this namespace (only on a thread you own)."""
        try:
            setns(self.fd, CLONE_NEWNET)
        except OSError as e:
            raise OSError(e.errno, e.strerror, self.path) from None

    def run(self, fn, *args):
        """Run ``fn(*args)`` inside the namespace on a dedicated thread."""
        def inside():
            self.enter_current_thread()
            return fn(*args)
        return run_in_thread(inside)

    def netlink(self):
        """A ``hull.sys.netlink.Netlink`` socket bound to this namespace."""
        from hull.sys.netlink import Netlink
        return self.run(Netlink)

    def write_sysctl(self, name: str, value: str) -> None:
        """Write ``/proc/sys/<name>`` as seen inside the namespace (net.* sysctls are per netns)."""
        self.run(write_sysctl, name, value)


def write_sysctl(name: str, value: str) -> None:
    with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
        f.write(value)


def read_sysctl(name: str) -> str:
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return f.read().strip()


def named_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def create_named(name: str) -> str:
    """Create and pin a new network namespace at /run/netns/<name>; returns the path."""
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    path = named_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)

    from hull.sys import libc  # tests and tools only: the plugins never get here

    def pin():
        libc.unshare(CLONE_NEWNET)
        libc.mount(f"/proc/self/task/{_thread.get_native_id()}/ns/net", path, "none", MS_BIND)

    try:
        run_in_thread(pin)
    except BaseException:
        os.unlink(path)
        raise
    return path


def remove_named(name_or_path: str) -> None:
    """Unpin and remove a named namespace; nothing happens if it is already gone."""
    path = name_or_path if name_or_path.startswith("/") else named_path(name_or_path)
    from hull.sys import libc
    try:
        libc.umount(path, MNT_DETACH)
    except OSError as e:
        if e.errno not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
