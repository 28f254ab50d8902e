"""Reading and writing cgroupfs files, with errors that name the spec field.

Each value goes out in one write(2), as the kernel parses per write.
"""

from __future__ import annotations

import errno
import posix   # not os: hull-runc delete comes here, and os costs it ~1 ms (hull.oci.state.exists)
import time

from hull.errors import FailedPrecondition, InvalidArgument, from_oserror
from hull.sys import pathname


def write(directory: str, name: str, value: str | int, field: str = "") -> None:
    """Write ``value`` to ``directory/name``; ``field`` names the spec field it came from."""
    path = f"{directory}/{name}"
    data = str(value).encode()
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError as e:
        raise _error(e, path, value, field) from e
    try:
        posix.write(fd, data)
    except OSError as e:
        raise _error(e, path, value, field) from e
    finally:
        posix.close(fd)


def _error(err: OSError, path: str, value: object, field: str):
    subject = f"{field}: " if field else ""
    parent, _, name = path.rpartition("/")
    if err.errno == errno.ENOENT and pathname.isdir(parent):
        return FailedPrecondition(f"{subject}cannot set {name}: the kernel "
                                  "has no such cgroup file (controller not available)")
    if err.errno in (errno.EOPNOTSUPP, errno.ENODEV) and field:
        return FailedPrecondition(f"{field}: cannot write {value!r} to {path}: {err.strerror}")
    if err.errno in (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW) and field:
        return InvalidArgument(f"{field}: cannot write {value!r} to {path}: {err.strerror}")
    return from_oserror(err, f"{subject}cannot write {value!r} to {path}")


def read(directory: str, name: str) -> str:
    path = f"{directory}/{name}"
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise from_oserror(e, f"cannot read {path}") from e


def read_optional(directory: str, name: str) -> str | None:
    """The file's text, or None when the kernel (or controller) lacks it."""
    try:
        with open(f"{directory}/{name}") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        # some stat files reject reads while the controller is off (EOPNOTSUPP)
        if e.errno in (errno.EOPNOTSUPP, errno.ENODEV, errno.EINVAL):
            return None
        raise from_oserror(e, f"cannot read {directory}/{name}") from e


def exists(directory: str, name: str) -> bool:
    return pathname.exists(f"{directory}/{name}")


def read_int(directory: str, name: str, default: int = 0) -> int:
    """An integer file; "max" reads as 0 (no limit), a missing file as ``default``."""
    text = read_optional(directory, name)
    if text is None:
        return default
    text = text.strip().split()[0] if text.strip() else ""
    if not text or text == "max":
        return 0
    try:
        return int(text)
    except ValueError:
        return default


def flat_keyed(text: str | None) -> dict[str, int]:
    """Parse "key value" lines (memory.stat, cpu.stat, ...)."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def mkdir(path: str) -> bool:
    """Create ``path`` and missing parents; True when the leaf was new."""
    if pathname.isdir(path):
        return False
    try:
        pathname.makedirs(path)
    except OSError as e:
        raise from_oserror(e, f"cannot create cgroup {path}") from e
    return True


def procs(directory: str, recursive: bool = True) -> list[int]:
    """Pids in the cgroup (and, recursively, its descendants)."""
    found: list[int] = []
    tops = [directory]
    while tops:
        top = tops.pop()
        text = read_optional(top, "cgroup.procs")
        if text is None:
            continue
        found.extend(int(p) for p in text.split())
        if recursive:
            try:
                with posix.scandir(top) as entries:
                    tops.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
            except FileNotFoundError:
                continue
    return found


def rmdir_tree(path: str, attempts: int = 8) -> None:
    """Remove the cgroup ``path`` and its sub-cgroups, leaf first; gone is fine.

    rmdir of a cgroup whose last task just exited can fail with EBUSY for a
    moment, so each removal retries with a short back-off.
    """
    try:
        with posix.scandir(path) as entries:
            children = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as e:
        raise from_oserror(e, f"cannot list cgroup {path}") from e
    for child in children:
        rmdir_tree(child, attempts)
    delay = 0.005
    for attempt in range(attempts):
        try:
            posix.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or attempt == attempts - 1:
                raise from_oserror(e, f"cannot remove cgroup {path}") from e
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
