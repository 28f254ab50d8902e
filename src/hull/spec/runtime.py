"""The OCI runtime-spec config (config.json) on Linux: validation, mount
option tables and the default config ``hull-runc spec`` writes.

The config stays the plain dict ``json`` gives us: the runtime reads a
handful of fields once, and a class per object would cost start-up time
for nothing. ``validate`` checks every field hull acts on and raises
``InvalidArgument`` naming the first bad one as a JSON path
(``linux.namespaces[2].type``).
"""

from __future__ import annotations

from hull.errors import InvalidArgument

#: ociVersion range accepted (every 1.x release up to 1.3.x)
OCI_VERSION = "1.3.0"
OCI_VERSION_MIN = "1.0.0"

NAMESPACES = ("cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time")
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer",
         "poststart", "poststop")
CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")
ROOTFS_PROPAGATION = ("private", "rprivate", "shared", "rshared", "slave", "rslave",
                      "unbindable", "runbindable")
RLIMITS = {  # name -> resource number (asm-generic, same on x86_64 and aarch64)
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
DEVICE_TYPES = ("c", "b", "u", "p")

# mount(2) flags (values from <sys/mount.h>; spec imports nothing of hull.sys)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC = 0x10, 0x20, 0x40, 0x80
MS_NOSYMFOLLOW, MS_NOATIME, MS_NODIRATIME, MS_BIND = 0x100, 0x400, 0x800, 0x1000
MS_REC, MS_SILENT = 0x4000, 0x8000
MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED = 1 << 17, 1 << 18, 1 << 19, 1 << 20
MS_RELATIME, MS_IVERSION, MS_STRICTATIME, MS_LAZYTIME = 1 << 21, 1 << 23, 1 << 24, 1 << 25

#: option -> (clear the flag?, flag)
MOUNT_FLAGS = {
    "acl": (False, 1 << 16), "noacl": (True, 1 << 16),
    "async": (True, MS_SYNCHRONOUS), "sync": (False, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME), "noatime": (False, MS_NOATIME),
    "bind": (False, MS_BIND), "rbind": (False, MS_BIND | MS_REC),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV), "nodev": (False, MS_NODEV),
    "diratime": (True, MS_NODIRATIME), "nodiratime": (False, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC), "noexec": (False, MS_NOEXEC),
    "iversion": (False, MS_IVERSION), "noiversion": (True, MS_IVERSION),
    "lazytime": (False, MS_LAZYTIME), "nolazytime": (True, MS_LAZYTIME),
    "loud": (True, MS_SILENT), "silent": (False, MS_SILENT),
    "mand": (False, MS_MANDLOCK), "nomand": (True, MS_MANDLOCK),
    "relatime": (False, MS_RELATIME), "norelatime": (True, MS_RELATIME),
    "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "strictatime": (False, MS_STRICTATIME), "nostrictatime": (True, MS_STRICTATIME),
    "suid": (True, MS_NOSUID), "nosuid": (False, MS_NOSUID),
    "symfollow": (True, MS_NOSYMFOLLOW), "nosymfollow": (False, MS_NOSYMFOLLOW),
}
MOUNT_PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}
# mount_setattr(2) attributes for the recursive options (rro, rnosuid, ...)
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
MOUNT_ATTR_NOEXEC, MOUNT_ATTR__ATIME, MOUNT_ATTR_RELATIME = 0x8, 0x70, 0x0
MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME = 0x10, 0x20
MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOSYMFOLLOW = 0x80, 0x200000
#: option -> (clear the attribute?, attribute)
MOUNT_ATTRS = {
    "rro": (False, MOUNT_ATTR_RDONLY), "rrw": (True, MOUNT_ATTR_RDONLY),
    "rnosuid": (False, MOUNT_ATTR_NOSUID), "rsuid": (True, MOUNT_ATTR_NOSUID),
    "rnodev": (False, MOUNT_ATTR_NODEV), "rdev": (True, MOUNT_ATTR_NODEV),
    "rnoexec": (False, MOUNT_ATTR_NOEXEC), "rexec": (True, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, MOUNT_ATTR_NODIRATIME), "rdiratime": (True, MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, MOUNT_ATTR_RELATIME), "rnorelatime": (True, MOUNT_ATTR_RELATIME),
    "rnoatime": (False, MOUNT_ATTR_NOATIME), "ratime": (True, MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW), "rsymfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
}
#: options runc and crun recognise that hull deliberately rejects
UNSUPPORTED_MOUNT_OPTIONS = ("idmap", "ridmap", "tmpcopyup")


class MountOptions:
    """One mount's options split into what mount(2) and mount_setattr(2) take."""

    __slots__ = ("flags", "propagation", "attr_set", "attr_clear", "data")

    def __init__(self) -> None:
        self.flags = 0
        self.propagation: list[int] = []
        self.attr_set = 0
        self.attr_clear = 0
        self.data: list[str] = []

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & MS_BIND)


def parse_mount_options(options: list[str], field: str = "options") -> MountOptions:
    """Split a mount's option list; anything unknown is filesystem data (like runc)."""
    parsed = MountOptions()
    for i, option in enumerate(options):
        if option in MOUNT_FLAGS:
            clear, flag = MOUNT_FLAGS[option]
            parsed.flags = parsed.flags & ~flag if clear else parsed.flags | flag
        elif option in MOUNT_PROPAGATION:
            parsed.propagation.append(MOUNT_PROPAGATION[option])
        elif option in MOUNT_ATTRS:
            clear, attr = MOUNT_ATTRS[option]
            if clear:
                parsed.attr_clear |= attr or MOUNT_ATTR__ATIME
            else:
                parsed.attr_set |= attr
                if attr in (MOUNT_ATTR_RELATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME):
                    parsed.attr_clear |= MOUNT_ATTR__ATIME
        elif option in UNSUPPORTED_MOUNT_OPTIONS:
            raise InvalidArgument(f"{field}[{i}]: mount option {option!r} is not supported")
        elif not option or "," in option:
            raise InvalidArgument(f"{field}[{i}]: bad mount option {option!r}")
        else:
            parsed.data.append(option)
    return parsed


def mount_option_names() -> list[str]:
    """Every option name hull acts on (for ``hull-runc features``)."""
    return sorted({*MOUNT_FLAGS, *MOUNT_PROPAGATION, *MOUNT_ATTRS})


# --- validation ------------------------------------------------------------------------

def _type_name(kind: type | tuple) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "an integer"}
    return names.get(kind, "a value") if isinstance(kind, type) else "a number"


def _get(obj: dict, key: str, kind: type, path: str, required: bool = False):
    if key not in obj or obj[key] is None:
        if required:
            raise InvalidArgument(f"{path}{key}: required")
        return None
    value = obj[key]
    # bool is an int subclass in Python; JSON keeps them apart
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgument(f"{path}{key}: must be {_type_name(kind)}")
    return value


def _strings(obj: dict, key: str, path: str, required: bool = False) -> list[str]:
    values = _get(obj, key, list, path, required) or []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise InvalidArgument(f"{path}{key}[{i}]: must be a string")
    return values


def _objects(obj: dict, key: str, path: str) -> list[dict]:
    values = _get(obj, key, list, path) or []
    for i, value in enumerate(values):
        if not isinstance(value, dict):
            raise InvalidArgument(f"{path}{key}[{i}]: must be an object")
    return values


def _absolute(value: str, field: str) -> None:
    if not value.startswith("/"):
        raise InvalidArgument(f"{field}: {value!r} is not an absolute path")


def check_oci_version(version: str) -> None:
    parts = version.split("-", 1)[0].split(".")
    ok = len(parts) == 3 and all(p.isdigit() for p in parts)
    if not ok:
        raise InvalidArgument(f"ociVersion: {version!r} is not a version (want 1.x.y)")
    if int(parts[0]) != 1 or int(parts[1]) > 3:
        raise InvalidArgument(f"ociVersion: {version!r} is not supported "
                              f"(hull-runc accepts {OCI_VERSION_MIN} to 1.3.x)")


def validate(config: object, *, need_process: bool = True) -> dict:
    """Check a parsed config.json; return it unchanged or raise InvalidArgument."""
    if not isinstance(config, dict):
        raise InvalidArgument("config.json must hold a JSON object")
    check_oci_version(_get(config, "ociVersion", str, "", required=True))
    root = _get(config, "root", dict, "", required=True)
    _get(root, "path", str, "root.", required=True)
    _get(root, "readonly", bool, "root.")
    process = _get(config, "process", dict, "", required=need_process)
    if process is not None:
        validate_process(process, "process.")
    _get(config, "hostname", str, "")
    _get(config, "domainname", str, "")
    for i, mount in enumerate(_objects(config, "mounts", "")):
        _validate_mount(mount, f"mounts[{i}]")
    _validate_hooks(_get(config, "hooks", dict, "") or {})
    annotations = _get(config, "annotations", dict, "") or {}
    for key, value in annotations.items():
        if not isinstance(value, str):
            raise InvalidArgument(f"annotations.{key}: must be a string")
    linux = _get(config, "linux", dict, "")
    if linux is not None:
        _validate_linux(linux, config)
    return config


def validate_process(process: dict, path: str = "process.") -> dict:
    args = _strings(process, "args", path)
    if not args and "commandLine" not in process:
        raise InvalidArgument(f"{path}args: must name the program to run")
    cwd = _get(process, "cwd", str, path, required=True)
    _absolute(cwd, f"{path}cwd")
    for i, entry in enumerate(_strings(process, "env", path)):
        if "=" not in entry:
            raise InvalidArgument(f"{path}env[{i}]: {entry!r} is not NAME=VALUE")
    _get(process, "terminal", bool, path)
    _get(process, "noNewPrivileges", bool, path)
    _get(process, "oomScoreAdj", int, path)
    _get(process, "apparmorProfile", str, path)
    user = _get(process, "user", dict, path)
    if user is not None:
        _get(user, "uid", int, f"{path}user.", required=True)
        _get(user, "gid", int, f"{path}user.", required=True)
        _get(user, "umask", int, f"{path}user.")
        for i, gid in enumerate(_get(user, "additionalGids", list, f"{path}user.") or []):
            if not isinstance(gid, int) or isinstance(gid, bool) or gid < 0:
                raise InvalidArgument(f"{path}user.additionalGids[{i}]: must be a gid")
    capabilities = _get(process, "capabilities", dict, path) or {}
    for name in CAPABILITY_SETS:
        _strings(capabilities, name, f"{path}capabilities.")
    for i, rlimit in enumerate(_objects(process, "rlimits", path)):
        field = f"{path}rlimits[{i}]."
        kind = _get(rlimit, "type", str, field, required=True)
        if kind not in RLIMITS:
            raise InvalidArgument(f"{field}type: unknown rlimit {kind!r}")
        _get(rlimit, "soft", int, field, required=True)
        _get(rlimit, "hard", int, field, required=True)
    size = _get(process, "consoleSize", dict, path)
    if size is not None:
        _get(size, "height", int, f"{path}consoleSize.", required=True)
        _get(size, "width", int, f"{path}consoleSize.", required=True)
    return process


def _validate_mount(mount: dict, field: str) -> None:
    destination = _get(mount, "destination", str, f"{field}.", required=True)
    _absolute(destination, f"{field}.destination")
    _get(mount, "type", str, f"{field}.")
    _get(mount, "source", str, f"{field}.")
    parse_mount_options(_strings(mount, "options", f"{field}."), f"{field}.options")
    for key in ("uidMappings", "gidMappings"):
        if mount.get(key):
            raise InvalidArgument(f"{field}.{key}: idmapped mounts are not supported")


def _validate_hooks(hooks: dict) -> None:
    for kind, entries in hooks.items():
        if kind not in HOOKS:
            raise InvalidArgument(f"hooks.{kind}: unknown hook kind")
        for i, hook in enumerate(_objects(hooks, kind, "hooks.")):
            field = f"hooks.{kind}[{i}]."
            _absolute(_get(hook, "path", str, field, required=True), f"{field}path")
            _strings(hook, "args", field)
            _strings(hook, "env", field)
            timeout = _get(hook, "timeout", int, field)
            if timeout is not None and timeout <= 0:
                raise InvalidArgument(f"{field}timeout: must be greater than zero")


def _validate_linux(linux: dict, config: dict) -> None:
    seen = set()
    for i, ns in enumerate(_objects(linux, "namespaces", "linux.")):
        field = f"linux.namespaces[{i}]."
        kind = _get(ns, "type", str, field, required=True)
        if kind not in NAMESPACES:
            raise InvalidArgument(f"{field}type: unknown namespace type {kind!r}")
        if kind in seen:
            raise InvalidArgument(f"{field}type: namespace {kind!r} listed twice")
        seen.add(kind)
        path = _get(ns, "path", str, field)
        if path:
            _absolute(path, f"{field}path")
    for key in ("uidMappings", "gidMappings"):
        for i, mapping in enumerate(_objects(linux, key, "linux.")):
            for part in ("containerID", "hostID", "size"):
                _get(mapping, part, int, f"linux.{key}[{i}].", required=True)
    if (linux.get("uidMappings") or linux.get("gidMappings")) and "user" not in seen:
        raise InvalidArgument("linux.uidMappings: user namespace mappings need a user namespace")
    for i, device in enumerate(_objects(linux, "devices", "linux.")):
        field = f"linux.devices[{i}]."
        _absolute(_get(device, "path", str, field, required=True), f"{field}path")
        kind = _get(device, "type", str, field, required=True)
        if kind not in DEVICE_TYPES:
            raise InvalidArgument(f"{field}type: unknown device type {kind!r}")
        if kind != "p":
            _get(device, "major", int, field, required=True)
            _get(device, "minor", int, field, required=True)
        for key in ("fileMode", "uid", "gid"):
            _get(device, key, int, field)
    _get(linux, "cgroupsPath", str, "linux.")
    _get(linux, "resources", dict, "linux.")
    for key, value in (_get(linux, "sysctl", dict, "linux.") or {}).items():
        if not isinstance(value, str):
            raise InvalidArgument(f"linux.sysctl.{key}: must be a string")
    propagation = _get(linux, "rootfsPropagation", str, "linux.")
    if propagation and propagation not in ROOTFS_PROPAGATION:
        raise InvalidArgument(f"linux.rootfsPropagation: unknown propagation {propagation!r}")
    for key in ("maskedPaths", "readonlyPaths"):
        for i, path in enumerate(_strings(linux, key, "linux.")):
            _absolute(path, f"linux.{key}[{i}]")
    _get(linux, "seccomp", dict, "linux.")


# --- the default config ------------------------------------------------------------------

DEFAULT_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
DEFAULT_MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
DEFAULT_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"]


def default_config(rootless: bool = False, uid: int = 0, gid: int = 0) -> dict:
    """The config ``hull-runc spec`` writes: runc's default, field for field."""
    caps = {name: list(DEFAULT_CAPABILITIES)
            for name in ("bounding", "effective", "permitted", "ambient")}
    nosuid_noexec_nodev = ["nosuid", "noexec", "nodev"]
    config = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": caps,
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "hull",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": nosuid_noexec_nodev + ["mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": list(nosuid_noexec_nodev)},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": nosuid_noexec_nodev + ["ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": nosuid_noexec_nodev + ["relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(DEFAULT_MASKED_PATHS),
            "readonlyPaths": list(DEFAULT_READONLY_PATHS),
        },
    }
    if rootless:
        _make_rootless(config, uid, gid)
    return config


def _make_rootless(config: dict, uid: int, gid: int) -> None:
    linux = config["linux"]
    linux.pop("resources")
    linux["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user")]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    mounts = [m for m in config["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    for mount in mounts:
        if mount["destination"] == "/sys":
            mount.update(type="none", source="/sys",
                         options=["rbind", "nosuid", "noexec", "nodev", "ro"])
        if mount["destination"] == "/dev/pts":
            mount["options"] = [o for o in mount["options"] if o != "gid=5"]
    config["mounts"] = mounts
