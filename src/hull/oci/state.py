"""Container state on disk: one directory per container under the root.

    <root>/<id>/state.json   what create recorded (atomic: temp file, rename)
    <root>/<id>/exec.fifo    exists while the init waits for ``start``
    <root>/<id>/paused       exists while ``pause`` holds the cgroup frozen

The status is never stored; it is derived each time from the init's pid,
its start time (a reused pid has another), whether the fifo still exists
and whether the cgroup is frozen. The freezer is read only when the
``paused`` mark says hull-runc froze it: loading the cgroup backend costs
more than the rest of ``start`` or ``state``.

The lifecycle verbs (state, start, kill, delete) use ``posix`` rather than
``os``: ``import os`` loads ``_collections_abc``, ``posixpath`` and ``stat``,
about 5 million instructions, a fifth of a whole ``hull-runc start``.
Container ids hold no ``/``, so paths are plain joins.
"""

from __future__ import annotations

import posix   # not os: see hull.oci.state.exists
import time

from hull import errors
from hull.oci import jsonio
from hull.oci.status import Status

DEFAULT_ROOT = "/run/hull-runc"
STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
PAUSED_MARK = "paused"
STATE_VERSION = 1
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(container_id: str) -> None:
    """runc's rule: letters, digits, ``_+-.``; not ``.`` or ``..``."""
    if not container_id or container_id in (".", "..") or \
            not set(container_id) <= _ID_CHARS:
        raise errors.InvalidArgument(f"invalid container id {container_id!r}")


def now_rfc3339() -> str:
    """UTC time like Go's RFC3339Nano (trailing zeros of the fraction trimmed)."""
    ns = time.time_ns()
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000))
    fraction = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, or None if the pid is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(b")", 1)[1].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


class State:
    """What ``create`` recorded about one container."""

    __slots__ = ("id", "pid", "pid_start", "bundle", "rootfs", "created", "owner",
                 "annotations", "cgroup", "config", "no_pivot", "dir")

    def __init__(self, id: str, dir: str, **fields):
        self.id = id
        self.dir = dir
        self.pid: int = fields.get("pid", 0)
        self.pid_start: int | None = fields.get("pid_start")
        self.bundle: str = fields.get("bundle", "")
        self.rootfs: str = fields.get("rootfs", "")
        self.created: str = fields.get("created", "")
        self.owner: str = fields.get("owner", "")
        self.annotations: dict = fields.get("annotations") or {}
        self.cgroup: dict | None = fields.get("cgroup")
        self.config: dict = fields.get("config") or {}
        self.no_pivot: bool = fields.get("no_pivot", False)

    @property
    def fifo_path(self) -> str:
        return f"{self.dir}/{EXEC_FIFO}"

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in self.__slots__ if name != "dir"}
        out["version"] = STATE_VERSION
        return out

    def is_alive(self) -> bool:
        """The init we started still runs (not exited, not a zombie, pid not reused)."""
        return bool(self.pid) and process_start_time(self.pid) == self.pid_start

    @property
    def paused_mark(self) -> str:
        return f"{self.dir}/{PAUSED_MARK}"

    def status(self, cgroup=None) -> Status:
        if not self.is_alive():
            return Status.STOPPED
        if exists(self.paused_mark):
            manager = cgroup or self.cgroup_manager()
            if manager is not None and _is_frozen(manager):
                return Status.PAUSED
        if exists(self.fifo_path):
            return Status.CREATED
        return Status.RUNNING

    def cgroup_manager(self):
        if not self.cgroup:
            return None
        from hull.cgroups import load_manager

        return load_manager(self.cgroup)

    def spec_state(self, status: Status | None = None) -> dict:
        """The runtime-spec state object (what ``state`` prints and hooks read)."""
        status = status or self.status()
        out = {
            "ociVersion": self.config.get("ociVersion", "1.0.0"),
            "id": self.id,
            "pid": self.pid if status is not Status.STOPPED else 0,
            "status": status.value,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    def hook_state(self, status: Status) -> dict:
        """The state hooks get on stdin: the spec's fields only."""
        out = {"ociVersion": self.config.get("ociVersion", "1.0.0"), "id": self.id,
               "status": status.value, "bundle": self.bundle}
        if status is not Status.STOPPED:
            out["pid"] = self.pid
        if self.annotations:
            out["annotations"] = self.annotations
        return out


def _is_frozen(manager) -> bool:
    try:
        return manager.is_frozen()
    except OSError:  # cgroup removed under us: not frozen
        return False


class Store:
    """The state root: one directory per container."""

    def __init__(self, root: str = DEFAULT_ROOT):
        self.root = root

    def path(self, container_id: str) -> str:
        check_id(container_id)
        return f"{self.root}/{container_id}"

    def reserve(self, container_id: str) -> str:
        """Make the container's directory; AlreadyExists if the id is taken."""
        path = self.path(container_id)
        from hull.sys import pathname   # create only: state, start and kill skip it

        pathname.makedirs(self.root, 0o711)
        try:
            posix.mkdir(path, 0o711)
        except FileExistsError:
            raise errors.AlreadyExists(
                f"cannot create container {container_id}: "
                "container with given ID already exists") from None
        return path

    def load(self, container_id: str) -> State:
        path = self.path(container_id)
        try:
            with open(f"{path}/{STATE_FILE}", "rb") as f:
                data = jsonio.loads(f.read())
        except FileNotFoundError:
            raise errors.NotFound(f"container {container_id} does not exist") from None
        except (ValueError, OSError) as e:
            raise errors.Internal(f"cannot load state of container {container_id}: {e}") from e
        data.pop("version", None)
        data.pop("id", None)
        return State(container_id, path, **data)

    def save(self, state: State) -> None:
        write_atomic(f"{state.dir}/{STATE_FILE}", jsonio.dumps(state.to_dict()))

    def ids(self) -> list[str]:
        try:
            names = sorted(posix.listdir(self.root))
        except FileNotFoundError:
            return []
        return [n for n in names if exists(f"{self.root}/{n}/{STATE_FILE}")]

    def remove(self, container_id: str) -> None:
        """Delete the container's directory; nothing to do if it is gone."""
        remove_tree(self.path(container_id))


def exists(path: str) -> bool:
    """``os.path.exists`` without ``os``."""
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def write_atomic(path: str, text: str, mode: int = 0o600, durable: bool = False) -> None:
    """Temp file and rename: readers see the old or the new file, never half.

    No fsync unless ``durable``: runtime state describes processes, which a
    power loss kills along with any meaning of the file (runc does not sync
    either, and /run is usually tmpfs). On this machine's ext4 /run an fsync
    costs more than the rest of ``create``.
    """
    tmp = f"{path}.tmp{posix.getpid()}"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, mode)
    try:
        posix.write(fd, text.encode())
        if durable:
            posix.fsync(fd)
    finally:
        posix.close(fd)
    posix.rename(tmp, path)


def remove_tree(path: str) -> None:
    """rm -r of a state directory (flat: files only, no shutil import)."""
    try:
        names = posix.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            posix.unlink(f"{path}/{name}")
        except FileNotFoundError:
            pass
    try:
        posix.rmdir(path)
    except FileNotFoundError:
        pass


def lock(path: str) -> int:
    """An exclusive flock on a container directory; close the fd to release."""
    import fcntl

    fd = posix.open(path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd
