"""Where a container's cgroups live: layout detection and runc's path rules.

``detect_layout`` reads /proc/self/mountinfo and /proc/self/cgroup once.
``resolve_v1``/``resolve_v2`` turn ``linux.cgroupsPath`` into directories:
an absolute path is taken below each hierarchy's mount point; a relative
one below the runtime's own cgroup (for v2, below its parent, because a
cgroup holding processes cannot delegate controllers); an empty one means
the container id, relative, as runc does.
"""

from __future__ import annotations

from hull.errors import FailedPrecondition, InvalidArgument
from hull.sys import mountinfo, pathname

# v1 controllers a container joins; "name=systemd" is a named hierarchy runc joins too
V1_CONTROLLERS = ("cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "pids",
                  "blkio", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc",
                  "name=systemd")


class Mount:
    """One cgroup hierarchy's mount: where it is and which cgroup is its root."""

    __slots__ = ("mountpoint", "root")

    def __init__(self, mountpoint: str, root: str) -> None:
        self.mountpoint = mountpoint
        self.root = root

    def __repr__(self) -> str:
        return f"Mount({self.mountpoint!r}, root={self.root!r})"


class Layout:
    """The cgroup hierarchies of this host and the cgroups this process is in.

    ``version`` is 2 only on a pure unified host; hybrid hosts count as v1
    (controllers live in the v1 hierarchies), like runc.
    """

    __slots__ = ("v1", "unified", "own")

    def __init__(self, v1: dict[str, Mount], unified: Mount | None,
                 own: dict[str, str]) -> None:
        self.v1 = v1            # controller (or "name=systemd") -> mount
        self.unified = unified  # the cgroup2 mount, if any
        self.own = own          # controller ("" for cgroup2) -> own cgroup path

    @property
    def version(self) -> int:
        has_v1_controllers = any(not name.startswith("name=") for name in self.v1)
        return 1 if has_v1_controllers or self.unified is None else 2

    @property
    def hybrid(self) -> bool:
        return self.version == 1 and self.unified is not None


def parse_mountinfo(text: str) -> tuple[dict[str, Mount], Mount | None]:
    """The v1 hierarchies (by controller) and the cgroup2 mount in ``text``."""
    v1: dict[str, Mount] = {}
    unified = None
    for entry in mountinfo.parse(text):
        mount = Mount(entry.mountpoint, entry.root)
        if entry.fstype == "cgroup2" and unified is None:
            unified = mount
        elif entry.fstype == "cgroup":
            for option in entry.super_options:
                if option in V1_CONTROLLERS or option.startswith("name="):
                    v1.setdefault(option, mount)
    return v1, unified


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup as controller -> path; "" is the cgroup2 entry."""
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers = parts[1].split(",") if parts[1] else [""]
        for name in controllers:
            own[name] = parts[2]
    return own


def detect_layout(mountinfo: str = "/proc/self/mountinfo",
                  proc_cgroup: str = "/proc/self/cgroup") -> Layout:
    try:
        with open(mountinfo) as f:
            v1, unified = parse_mountinfo(f.read())
        with open(proc_cgroup) as f:
            own = parse_proc_cgroup(f.read())
    except OSError as e:
        raise FailedPrecondition(f"cannot detect cgroup layout: {e}") from e
    if not v1 and unified is None:
        raise FailedPrecondition("cannot detect cgroup layout: no cgroup filesystem is mounted")
    return Layout(v1, unified, own)


def is_systemd_path(cgroups_path: str) -> bool:
    # runc's systemd form is "slice:prefix:name"
    return cgroups_path.count(":") == 2 and not cgroups_path.startswith("/")


def reject_systemd(cgroups_path: str, container_id: str) -> None:
    raise InvalidArgument(
        f"cannot open cgroup for container {container_id}: systemd cgroup driver is not "
        f"supported (linux.cgroupsPath {cgroups_path!r}); use a path")


def clean(cgroups_path: str) -> str:
    """Lexically clean; a relative path cannot climb above its base (runc CleanPath)."""
    if not cgroups_path:
        return ""
    if cgroups_path.startswith("/"):
        return pathname.normpath(cgroups_path)
    cleaned = pathname.normpath("/" + cgroups_path)
    return pathname.relpath(cleaned, "/") if cleaned != "/" else ""


def _inner(cgroups_path: str, container_id: str) -> str:
    inner = clean(cgroups_path)
    if not inner:
        inner = clean(container_id)
    if not inner or inner == "/":
        raise InvalidArgument(f"cannot open cgroup for container {container_id}: "
                              f"linux.cgroupsPath {cgroups_path!r} names a hierarchy root")
    return inner


def _below(mount: Mount, own: str | None, inner: str) -> str:
    if inner.startswith("/"):
        return mount.mountpoint + inner
    base = own or "/"
    # our own cgroup is reported from the namespace root; the mount may be a sub-tree
    rel = pathname.relpath(base, mount.root) if base.startswith(mount.root) else base
    rel = "" if rel in (".", "/") else rel.lstrip("/")
    return pathname.join(mount.mountpoint, rel, inner)


def resolve_v1(layout: Layout, cgroups_path: str, container_id: str) -> dict[str, str]:
    """Controller -> directory, for every v1 controller this host mounts ("" is
    the cgroup2 directory of a hybrid host)."""
    inner = _inner(cgroups_path, container_id)
    if "devices" not in layout.v1:
        # the devices controller is the container's device isolation: never run without it
        raise FailedPrecondition(f"cannot open cgroup for container {container_id}: "
                                 "the devices cgroup controller is not mounted")
    paths = {}
    for name, mount in layout.v1.items():
        if name in V1_CONTROLLERS:
            paths[name] = _below(mount, layout.own.get(name), inner)
    if layout.unified is not None:
        # hybrid: join the controller-less cgroup2 tree too, as runc and systemd do,
        # so cgroup2-only tools (and cgroup.kill) see the container
        paths[""] = _below(layout.unified, layout.own.get(""), inner)
    return paths


def resolve_v2(layout: Layout, cgroups_path: str, container_id: str) -> str:
    """The container's cgroup2 directory."""
    inner = _inner(cgroups_path, container_id)
    if layout.unified is None:
        raise FailedPrecondition(f"cannot open cgroup for container {container_id}: "
                                 "cgroup2 is not mounted")
    own = layout.own.get("")
    if not inner.startswith("/") and own:
        own = pathname.dirname(own) if own != "/" else "/"
    return _below(layout.unified, own, inner)


def is_within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


__all__ = ["Layout", "Mount", "detect_layout", "resolve_v1", "resolve_v2"]
