"""The container's root filesystem, built inside its new mount namespace by
the init: propagation, the rootfs bind mount, the config's mounts, /dev,
then pivot_root (or chroot), masked and read-only paths.

Every mount target is resolved inside the rootfs (hull.sys.mounts): a
symlink in the image cannot point a mount at the host.
"""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why
import stat

from hull import errors
from hull.spec import runtime as spec
from hull.sys import mounts as sysmounts
from hull.sys import pathname
from hull.sys.libc import (MNT_DETACH, MS_BIND, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID,
                           MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SLAVE, mount,
                           pivot_root, umount)

DEFAULT_DEVICES = [  # path, type, major, minor: what every container gets (runc's list)
    ("/dev/null", "c", 1, 3), ("/dev/zero", "c", 1, 5), ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8), ("/dev/urandom", "c", 1, 9), ("/dev/tty", "c", 5, 0),
]
DEFAULT_LINKS = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
                 ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]
_STATVFS_TO_MS = ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC),
                  (1024, 0x400), (2048, 0x800), (4096, 1 << 21))


class RootfsPlan:
    """What the init needs to build the rootfs, computed before the fork."""

    def __init__(self, config: dict, rootfs: str, bundle: str, *, no_pivot: bool,
                 in_userns: bool, new_cgroupns: bool):
        self.config = config
        self.rootfs = rootfs
        self.bundle = bundle
        self.no_pivot = no_pivot
        self.in_userns = in_userns
        self.new_cgroupns = new_cgroupns
        linux = config.get("linux") or {}
        self.propagation = linux.get("rootfsPropagation") or ""
        self.mounts = config.get("mounts") or []
        self.devices = linux.get("devices") or []
        self.masked = linux.get("maskedPaths") or []
        self.readonly_paths = linux.get("readonlyPaths") or []
        self.readonly_root = bool((config.get("root") or {}).get("readonly"))


def prepare(plan: RootfsPlan, own_namespace: bool = True) -> int:
    """Everything up to pivot_root; returns an O_PATH fd of the rootfs mount.

    Without a mount namespace of our own, the host's / keeps its
    propagation (runc changes it; we will not touch the host's root).
    """
    flag = spec.MOUNT_PROPAGATION.get(plan.propagation, MS_SLAVE | MS_REC)
    if plan.propagation in ("unbindable", "runbindable"):
        flag = MS_SLAVE | MS_REC   # nothing could be bind-mounted below it: set it in finish()
    if own_namespace:
        mount(None, "/", None, flag)
        if flag & (1 << 20):  # shared: pivot_root needs the rootfs's parent mount private
            _make_parent_private(plan.rootfs)
    mount(plan.rootfs, plan.rootfs, None, MS_BIND | MS_REC)
    root_fd = posix.open(plan.rootfs, sysmounts.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    bind_dev = False
    for i, entry in enumerate(plan.mounts):
        _mount_entry(plan, root_fd, entry, i)
        bind_dev |= entry["destination"] == "/dev" and _is_bind(entry)
    if not bind_dev:
        _make_devices(plan, root_fd)
    return root_fd


def _make_parent_private(path: str) -> None:
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if (path == point or path.startswith(point.rstrip("/") + "/")) and \
                    len(point) > len(best):
                best = point
    mount(None, best, None, MS_PRIVATE)


def _is_bind(entry: dict) -> bool:
    options = entry.get("options") or []
    return entry.get("type") == "bind" or "bind" in options or "rbind" in options


def _mount_entry(plan: RootfsPlan, root_fd: int, entry: dict, index: int) -> None:
    destination = entry["destination"]
    kind = entry.get("type") or ("bind" if _is_bind(entry) else "")
    what = f"mounts[{index}] ({kind or 'none'} on {destination})"
    try:
        options = spec.parse_mount_options(entry.get("options") or [], f"mounts[{index}].options")
        if options.is_bind or kind == "bind":
            _bind(plan, root_fd, entry, options)
        elif kind == "cgroup":
            _mount_cgroup(plan, root_fd, destination, options)
        else:
            _mount_fs(root_fd, entry, kind, options)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot mount {what}") from e


def _bind(plan: RootfsPlan, root_fd: int, entry: dict, options: spec.MountOptions) -> None:
    source = entry.get("source") or ""
    if not source.startswith("/"):
        source = pathname.join(plan.bundle, source)
    source_is_dir = stat.S_ISDIR(posix.stat(source).st_mode)
    target = sysmounts.ensure_in_root(root_fd, entry["destination"], source_is_dir)
    try:
        recursive = options.flags & MS_REC
        sysmounts.mount_on_fd(source, target, None, MS_BIND | recursive)
    finally:
        posix.close(target)
    _finish_mount(root_fd, entry["destination"], options, bind=True)


def _mount_fs(root_fd: int, entry: dict, kind: str, options: spec.MountOptions) -> None:
    target = sysmounts.ensure_in_root(root_fd, entry["destination"], True)
    flags = options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT)
    data = ",".join(options.data) or None
    try:
        sysmounts.mount_on_fd(entry.get("source") or kind, target, kind or None, flags, data)
    finally:
        posix.close(target)
    _finish_mount(root_fd, entry["destination"], options, bind=False)


def _finish_mount(root_fd: int, destination: str, options: spec.MountOptions,
                  bind: bool) -> None:
    """Flags a bind mount cannot take at once, propagation, recursive attributes."""
    remount_flags = options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT)
    needs_remount = bind and remount_flags
    if not (needs_remount or options.propagation or options.attr_set or options.attr_clear):
        return
    fd = sysmounts.open_in_root(root_fd, destination)  # the new mount, not what it covers
    try:
        if needs_remount:
            flags = MS_BIND | MS_REMOUNT | remount_flags | _locked_flags(fd)
            sysmounts.mount_on_fd(None, fd, None, flags)
        for propagation in options.propagation:
            sysmounts.mount_on_fd(None, fd, None, propagation)
        if options.attr_set or options.attr_clear:
            sysmounts.mount_setattr(fd, options.attr_set, options.attr_clear)
    finally:
        posix.close(fd)


def _locked_flags(fd: int) -> int:
    """nosuid/nodev/noexec already on the mount: a remount may not drop them."""
    current = posix.statvfs(sysmounts.fd_path(fd)).f_flag
    return sum(ms for st, ms in _STATVFS_TO_MS if current & st and ms in
               (MS_NOSUID, MS_NODEV, MS_NOEXEC))


# --- cgroup mounts ------------------------------------------------------------------

def _mount_cgroup(plan: RootfsPlan, root_fd: int, destination: str,
                  options: spec.MountOptions) -> None:
    """cgroup2 as is; v1 as a tmpfs with one mount per hierarchy (what runc does)."""
    hierarchies, unified = _cgroup_hierarchies()
    flags = options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT)
    target = sysmounts.ensure_in_root(root_fd, destination, True)
    try:
        if not hierarchies and unified:
            if plan.new_cgroupns:
                sysmounts.mount_on_fd("cgroup2", target, "cgroup2", flags)
            else:  # no namespace of its own: show only its cgroup, not the host's tree
                inner = _own_cgroups().get("", "/").lstrip("/")
                source = pathname.normpath(pathname.join(unified, inner))
                sysmounts.mount_on_fd(source, target, None, MS_BIND | MS_REC)
            if not plan.new_cgroupns and flags & MS_RDONLY:
                posix.close(target)
                target = -1
                _remount_readonly(root_fd, destination)
            return
        sysmounts.mount_on_fd("tmpfs", target, "tmpfs", flags & ~MS_RDONLY, "mode=755")
    finally:
        if target >= 0:
            posix.close(target)
    own = _own_cgroups()
    for name, (mount_point, root) in hierarchies.items():
        sub = f"{destination.rstrip('/')}/{name}"
        fd = sysmounts.ensure_in_root(root_fd, sub, True)
        try:
            if plan.new_cgroupns:
                data = name if not name.startswith("name=") else f"none,{name}"
                sysmounts.mount_on_fd("cgroup", fd, "cgroup", flags & ~MS_RDONLY, data)
            else:
                inner = own.get(name, "/")
                relative = pathname.relpath(inner, root) if root != "/" else inner.lstrip("/")
                source = pathname.normpath(pathname.join(mount_point, relative))
                sysmounts.mount_on_fd(source, fd, None, MS_BIND | MS_REC)
        finally:
            posix.close(fd)
        if flags & MS_RDONLY:
            _remount_readonly(root_fd, sub)
        for alias in name.split(",") if "," in name else ():
            _symlink_in_root(root_fd, name, f"{destination.rstrip('/')}/{alias}")
    if flags & MS_RDONLY:
        _remount_readonly(root_fd, destination)


def _cgroup_hierarchies() -> tuple[dict[str, tuple[str, str]], str | None]:
    """v1 hierarchies as dir name -> (mount point, root); and the cgroup2 mount."""
    found, unified = {}, None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if tail[0] == "cgroup2" and unified is None:
                unified = fields[4]
            elif tail[0] == "cgroup":
                super_options = tail[2].split(",")
                names = [o for o in super_options if o not in ("rw", "ro") and
                         (o.startswith("name=") or "=" not in o)]
                key = ",".join(n for n in names if not n.startswith("name=")) or \
                    next((n for n in names if n.startswith("name=")), "")
                if key:
                    found.setdefault(key, (fields[4], fields[3]))
    return found, unified


def _own_cgroups() -> dict[str, str]:
    """/proc/self/cgroup as hierarchy -> path ("" is the cgroup2 entry)."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            own[controllers] = path
    return own


def _remount_readonly(root_fd: int, path: str) -> None:
    fd = sysmounts.open_in_root(root_fd, path)
    try:
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(fd)
        sysmounts.mount_on_fd(None, fd, None, flags)
    finally:
        posix.close(fd)


def _symlink_in_root(root_fd: int, target: str, link: str) -> None:
    parent, _, name = link.rpartition("/")
    dir_fd = sysmounts.open_in_root(root_fd, parent or "/")
    try:
        posix.symlink(target, name, dir_fd=dir_fd)
    except FileExistsError:
        pass
    finally:
        posix.close(dir_fd)


# --- /dev -----------------------------------------------------------------------

def _make_devices(plan: RootfsPlan, root_fd: int) -> None:
    wanted = {d["path"]: d for d in plan.devices}
    devices = [{"path": p, "type": t, "major": ma, "minor": mi, "fileMode": 0o666,
                "uid": 0, "gid": 0} for p, t, ma, mi in DEFAULT_DEVICES if p not in wanted]
    old_umask = posix.umask(0)
    try:
        for index, device in enumerate(devices + plan.devices):
            try:
                _make_device(plan, root_fd, device)
            except OSError as e:
                raise errors.from_oserror(e, f"cannot create device {device['path']}") from e
        for target, link in DEFAULT_LINKS + [("pts/ptmx", "/dev/ptmx")]:
            if link not in wanted:
                _symlink_in_root(root_fd, target, link)
        if pathname.exists("/proc/kcore"):
            _symlink_in_root(root_fd, "/proc/kcore", "/dev/core")
    finally:
        posix.umask(old_umask)


def _make_device(plan: RootfsPlan, root_fd: int, device: dict) -> None:
    path = device["path"]
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    mode = (device.get("fileMode") or 0o666) & 0o7777
    if plan.in_userns:  # mknod is not allowed: bind the host's node instead
        target = sysmounts.ensure_in_root(root_fd, path, directory=False)
        try:
            sysmounts.mount_on_fd(path, target, None, MS_BIND)
        finally:
            posix.close(target)
        return
    parent, _, name = path.rpartition("/")
    dir_fd = sysmounts.ensure_in_root(root_fd, parent or "/", True)
    try:
        try:
            posix.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        number = posix.makedev(device.get("major", 0), device.get("minor", 0))
        # mknodat needs a real dir fd, not O_PATH
        real_dir = posix.open(".", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC, dir_fd=dir_fd)
        try:
            posix.mknod(name, kinds[device["type"]] | mode, number, dir_fd=real_dir)
            posix.chown(name, device.get("uid") or 0, device.get("gid") or 0, dir_fd=real_dir,
                     follow_symlinks=False)
        finally:
            posix.close(real_dir)
    finally:
        posix.close(dir_fd)


# --- pivot and after --------------------------------------------------------------------

def enter(plan: RootfsPlan, root_fd: int, own_namespace: bool = True) -> None:
    """Make the rootfs our /: pivot_root with the old root detached, or chroot."""
    posix.fchdir(root_fd)
    if not own_namespace:
        posix.chroot(".")
    elif plan.no_pivot:
        mount(plan.rootfs, "/", None, MS_MOVE)
        posix.chroot(".")
    else:
        old_root = posix.open("/", posix.O_DIRECTORY | posix.O_RDONLY | posix.O_CLOEXEC)
        new_root = posix.open(".", posix.O_DIRECTORY | posix.O_RDONLY | posix.O_CLOEXEC)
        try:
            posix.fchdir(new_root)
            pivot_root(".", ".")   # the old root now sits on top of the new one
            posix.fchdir(old_root)
            mount(None, ".", None, MS_SLAVE | MS_REC)  # unmounting must not propagate
            umount(".", MNT_DETACH)
        finally:
            posix.close(old_root)
            posix.close(new_root)
    posix.chdir("/")


def finish(plan: RootfsPlan, own_namespace: bool = True) -> None:
    """After pivot: masked and read-only paths, then the read-only root."""
    root_fd = posix.open("/", sysmounts.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        for path in plan.readonly_paths:
            _readonly_path(root_fd, path)
        for path in plan.masked:
            _mask_path(root_fd, path)
        if plan.readonly_root:
            mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(root_fd))
        if plan.propagation and own_namespace:
            mount(None, "/", None, spec.MOUNT_PROPAGATION[plan.propagation])
    finally:
        posix.close(root_fd)


def _readonly_path(root_fd: int, path: str) -> None:
    try:
        fd = sysmounts.open_in_root(root_fd, path)
    except FileNotFoundError:
        return
    try:
        sysmounts.mount_on_fd(sysmounts.fd_path(fd), fd, None, MS_BIND | MS_REC)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot make {path} read-only") from e
    finally:
        posix.close(fd)
    _remount_readonly(root_fd, path)


def _mask_path(root_fd: int, path: str) -> None:
    try:
        fd = sysmounts.open_in_root(root_fd, path)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISDIR(posix.fstat(fd).st_mode):
            sysmounts.mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY)
        else:
            sysmounts.mount_on_fd("/dev/null", fd, None, MS_BIND)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot mask {path}") from e
    finally:
        posix.close(fd)
