"""Loop devices through the kernel's ioctl interface (no losetup).

``attach(path)`` takes a free device from /dev/loop-control and binds the
file to it with LOOP_CONFIGURE (falling back to LOOP_SET_FD and
LOOP_SET_STATUS64 on kernels before 5.8). Devices are attached without
autoclear so that they outlive the process that made them: a restarted
driver finds them again by backing file (``find_by_backing``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

from hull.sys import ffi

LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_STATUS64 = 0x4C04
LOOP_GET_STATUS64 = 0x4C05
LOOP_SET_CAPACITY = 0x4C07
LOOP_SET_DIRECT_IO = 0x4C08
LOOP_SET_BLOCK_SIZE = 0x4C09
LOOP_CONFIGURE = 0x4C0A
LOOP_CTL_GET_FREE = 0x4C82

LO_FLAGS_READ_ONLY = 1
LO_FLAGS_AUTOCLEAR = 4
LO_FLAGS_PARTSCAN = 8
LO_FLAGS_DIRECT_IO = 16

LO_NAME_SIZE = 64
CONTROL = "/dev/loop-control"
SYS_BLOCK = "/sys/block"


class LoopInfo64(ffi.Structure):
    _fields_ = [
        ("lo_device", ffi.c_uint64),
        ("lo_inode", ffi.c_uint64),
        ("lo_rdevice", ffi.c_uint64),
        ("lo_offset", ffi.c_uint64),
        ("lo_sizelimit", ffi.c_uint64),
        ("lo_number", ffi.c_uint32),
        ("lo_encrypt_type", ffi.c_uint32),
        ("lo_encrypt_key_size", ffi.c_uint32),
        ("lo_flags", ffi.c_uint32),
        ("lo_file_name", ffi.c_char * LO_NAME_SIZE),
        ("lo_crypt_name", ffi.c_char * LO_NAME_SIZE),
        ("lo_encrypt_key", ffi.c_ubyte * 32),
        ("lo_init", ffi.c_uint64 * 2),
    ]


class LoopConfig(ffi.Structure):
    _fields_ = [
        ("fd", ffi.c_uint32),
        ("block_size", ffi.c_uint32),
        ("info", LoopInfo64),
        ("reserved", ffi.c_uint64 * 8),
    ]


def _info(path: str, flags: int) -> LoopInfo64:
    info = LoopInfo64()
    info.lo_flags = flags
    info.lo_file_name = os.fsencode(path)[: LO_NAME_SIZE - 1]
    return info


def _configure(dev_fd: int, file_fd: int, path: str, flags: int, block_size: int) -> None:
    config = LoopConfig(fd=file_fd, block_size=block_size, info=_info(path, flags))
    try:
        fcntl.ioctl(dev_fd, LOOP_CONFIGURE, config)
        return
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
    # kernels before 5.8: separate steps
    fcntl.ioctl(dev_fd, LOOP_SET_FD, file_fd)
    fcntl.ioctl(dev_fd, LOOP_SET_STATUS64, _info(path, flags))
    if block_size:
        fcntl.ioctl(dev_fd, LOOP_SET_BLOCK_SIZE, block_size)


def _free_index() -> int:
    fd = os.open(CONTROL, os.O_RDWR | os.O_CLOEXEC)
    try:
        return fcntl.ioctl(fd, LOOP_CTL_GET_FREE)
    finally:
        os.close(fd)


def attach(path: str, read_only: bool = False, direct_io: bool = False,
           block_size: int = 0) -> str:
    """Bind ``path`` to a free loop device; returns ``/dev/loopN``.

    ``block_size`` is the device's logical block size (0: the kernel's 512).

    Another process may grab the same free device between GET_FREE and
    CONFIGURE: the kernel then answers EBUSY and we take the next one.
    """
    flags = (LO_FLAGS_READ_ONLY if read_only else 0) | (LO_FLAGS_DIRECT_IO if direct_io else 0)
    mode = os.O_RDONLY if read_only else os.O_RDWR
    file_fd = os.open(path, mode | os.O_CLOEXEC)
    try:
        for _ in range(64):
            device = f"/dev/loop{_free_index()}"
            _ensure_node(device)
            dev_fd = os.open(device, mode | os.O_CLOEXEC)
            try:
                _configure(dev_fd, file_fd, path, flags, block_size)
                return device
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise OSError(e.errno, e.strerror, device) from e
            finally:
                os.close(dev_fd)
        raise OSError(errno.EBUSY, "no free loop device after 64 tries", path)
    finally:
        os.close(file_fd)


def _ensure_node(device: str) -> None:
    """Wait briefly for udev/devtmpfs to show a freshly allocated node."""
    for _ in range(50):
        if os.path.exists(device):
            return
        time.sleep(0.01)
    raise OSError(errno.ENOENT, "loop device node did not appear", device)


def detach(device: str) -> None:
    """Unbind a loop device; a device already free is not an error.

    EBUSY right after an unmount is the kernel still dropping its last
    reference: retry briefly.
    """
    try:
        fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        for attempt in range(50):
            try:
                fcntl.ioctl(fd, LOOP_CLR_FD, 0)
                return
            except OSError as e:
                if e.errno == errno.ENXIO:
                    return
                if e.errno != errno.EBUSY or attempt == 49:
                    raise OSError(e.errno, e.strerror, device) from e
                time.sleep(0.02)
    finally:
        os.close(fd)


def set_capacity(device: str) -> None:
    """Make the device pick up a grown backing file (online expansion)."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, LOOP_SET_CAPACITY, 0)
    finally:
        os.close(fd)


def backing_file(device: str) -> str | None:
    name = os.path.basename(device)
    try:
        with open(f"{SYS_BLOCK}/{name}/loop/backing_file") as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError, OSError):
        return None


def find_by_backing(path: str) -> list[str]:
    """Every attached loop device whose backing file is ``path``."""
    want = os.path.realpath(path)
    found = []
    try:
        names = os.listdir(SYS_BLOCK)
    except FileNotFoundError:
        return found
    for name in sorted(names):
        if not name.startswith("loop"):
            continue
        current = backing_file(name)
        if current and current.removesuffix(" (deleted)") == want:
            found.append(f"/dev/{name}")
    return found


def size_bytes(device: str) -> int:
    name = os.path.basename(device)
    with open(f"{SYS_BLOCK}/{name}/size") as f:
        return int(f.read()) * 512


def read_only(device: str) -> bool:
    """Was the device attached read-only (LO_FLAGS_READ_ONLY)?"""
    name = os.path.basename(device)
    try:
        with open(f"{SYS_BLOCK}/{name}/ro") as f:
            return f.read().strip() == "1"
    except FileNotFoundError:
        return False
