"""Runtime-spec documents for pod containers, from the CRI configs.

Pure data in, dict out: the caller resolves the image, the user and the
sandbox's namespaces first (``ContainerPlan``). Defaults follow what
containerd and CRI-O give containers: capabilities, masked and read-only
paths, /dev, /proc, /sys, the pod's shm and /etc files.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field

from hull._generated import api_pb2 as api
from hull.cri import seccomp_default
from hull.errors import InvalidArgument, NotFound
from hull.sys import capabilities

log = logging.getLogger("hull.cri.spec")

OCI_VERSION = "1.0.2"

DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]

ALL_CAPS = capabilities.names()  # every capability hull knows, in number order

DEFAULT_MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                  "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                  "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                  "/sys/devices/virtual/powercap"]
DEFAULT_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

PROPAGATION = {api.PROPAGATION_PRIVATE: "rprivate", api.PROPAGATION_HOST_TO_CONTAINER: "rslave",
               api.PROPAGATION_BIDIRECTIONAL: "rshared"}

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class SandboxView:
    """What a container needs to know of its pod."""
    namespaces: dict[str, str]          # kind -> pinned path ("net", "ipc", "uts")
    files: dict[str, str]               # "hostname", "hosts", "resolv.conf" -> host path
    shm: str                            # host path of the pod's /dev/shm ("" = private tmpfs)
    cgroup_parent: str
    sysctls: dict[str, str]
    hostname: str
    infra_pid: int = 0
    host_network: bool = False
    host_ipc: bool = False
    host_pid: bool = False
    uid_mappings: list[dict] = field(default_factory=list)
    gid_mappings: list[dict] = field(default_factory=list)


@dataclass
class ContainerPlan:
    container_id: str
    config: api.ContainerConfig
    sandbox: SandboxView
    rootfs: str
    args: list[str]
    env: list[str]
    cwd: str
    uid: int
    gid: int
    groups: list[int]
    #: resolved extra mounts (host path already checked / image volume paths)
    mounts: list[dict] = field(default_factory=list)
    target_pid: int = 0                 # PID namespace TARGET
    oom_score_floor: int = -1000        # what this process may set (restrict_oom_score_adj)


def clamp_oom_score_adj(requested: int, floor: int) -> int:
    """Raise ``requested`` to what we are allowed to set, as containerd does."""
    if requested < floor:
        log.info("oom_score_adj %d clamped to %d: lowering it needs CAP_SYS_RESOURCE",
                 requested, floor)
        return floor
    return requested


def host_capabilities() -> list[str]:
    """The capabilities hulld itself may grant: its bounding set."""
    try:
        return capabilities.to_names(capabilities.current()["bounding"])
    except (OSError, KeyError, ValueError):
        return list(ALL_CAPS)


HOST_CAPS = host_capabilities()


def capabilities_for(sc: api.LinuxContainerSecurityContext) -> tuple[list[str], list[str]]:
    """(bounding/effective/permitted set, ambient set), within what hulld holds."""
    if sc.privileged:
        return list(HOST_CAPS), []
    caps, ambient = _requested_caps(sc)
    dropped = [c for c in caps if c not in HOST_CAPS]
    if dropped:
        log.info("capabilities %s left out: hulld does not hold them", ", ".join(dropped))
    return [c for c in caps if c in HOST_CAPS], [c for c in ambient if c in HOST_CAPS]


def _requested_caps(sc: api.LinuxContainerSecurityContext) -> tuple[list[str], list[str]]:
    caps = list(DEFAULT_CAPS)
    adds = [_cap(c) for c in sc.capabilities.add_capabilities]
    drops = [_cap(c) for c in sc.capabilities.drop_capabilities]
    ambient = [_cap(c) for c in sc.capabilities.add_ambient_capabilities]
    if "CAP_ALL" in adds:
        caps = list(HOST_CAPS)
    caps += [c for c in adds + ambient if c != "CAP_ALL" and c not in caps]
    if "CAP_ALL" in drops:
        caps = [c for c in adds + ambient if c != "CAP_ALL"]
    caps = [c for c in caps if c not in drops or c in adds or c in ambient]
    return caps, [c for c in ambient if c != "CAP_ALL"]


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def base_mounts(sc: api.LinuxContainerSecurityContext, sandbox: SandboxView) -> list[dict]:
    privileged = sc.privileged
    userns = bool(sandbox.uid_mappings)
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     *([] if userns else ["gid=5"])]},
    ]
    if not userns:
        # mqueue must belong to the IPC namespace's user namespace: the pod's is the host's
        mounts.append({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                       "options": ["nosuid", "noexec", "nodev"]})
    if userns or sandbox.host_network:
        # sysfs needs a network namespace owned by the container's user namespace
        mounts.append({"destination": "/sys", "type": "bind", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    else:
        mounts.append({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                       "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]})
        mounts.append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                       "options": ["nosuid", "noexec", "nodev", "relatime",
                                   "rw" if privileged else "ro"]})
    if sandbox.shm:
        mounts.append({"destination": "/dev/shm", "type": "bind", "source": sandbox.shm,
                       "options": ["rbind", "rprivate", "rw"]})
    else:
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]})
    return mounts


def etc_mounts(plan: ContainerPlan) -> list[dict]:
    wanted = {m["destination"] for m in plan.mounts}
    ro = plan.config.linux.security_context.readonly_rootfs
    found = []
    for name in ("hostname", "hosts", "resolv.conf"):
        dest = f"/etc/{name}"
        if dest in wanted or not plan.sandbox.files.get(name):
            continue
        found.append({"destination": dest, "type": "bind", "source": plan.sandbox.files[name],
                      "options": ["rbind", "rprivate", "ro" if ro else "rw"]})
    return found


def namespaces(plan: ContainerPlan) -> list[dict]:
    sb = plan.sandbox
    opts = plan.config.linux.security_context.namespace_options
    found = [{"type": "mount"}]
    if not sb.host_network:
        found.append({"type": "network", "path": sb.namespaces["net"]})
        found.append({"type": "uts", "path": sb.namespaces["uts"]})
    if not sb.host_ipc:
        found.append({"type": "ipc", "path": sb.namespaces["ipc"]})
    if opts.pid == api.CONTAINER or (opts.pid == api.POD and not sb.infra_pid and not sb.host_pid):
        found.append({"type": "pid"})
    elif opts.pid == api.POD and sb.infra_pid:
        found.append({"type": "pid", "path": f"/proc/{sb.infra_pid}/ns/pid"})
    elif opts.pid == api.TARGET:
        found.append({"type": "pid", "path": f"/proc/{plan.target_pid}/ns/pid"})
    if sb.uid_mappings:
        # the pod's pinned user namespace owns its net/ipc/uts namespaces
        user = sb.namespaces.get("user")
        found.insert(0, {"type": "user", **({"path": user} if user else {})})
    return found


def resources(res: api.LinuxContainerResources) -> dict:
    """runtime-spec linux.resources for a CRI LinuxContainerResources."""
    out: dict = {}
    cpu = {}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpu_quota:
        cpu["quota"] = res.cpu_quota
    if res.cpu_period:
        cpu["period"] = res.cpu_period
    if res.cpuset_cpus:
        cpu["cpus"] = res.cpuset_cpus
    if res.cpuset_mems:
        cpu["mems"] = res.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    memory = {}
    if res.memory_limit_in_bytes:
        memory["limit"] = res.memory_limit_in_bytes
    if res.memory_swap_limit_in_bytes:
        memory["swap"] = res.memory_swap_limit_in_bytes
    if memory:
        out["memory"] = memory
    if res.hugepage_limits:
        out["hugepageLimits"] = [{"pageSize": h.page_size, "limit": h.limit}
                                 for h in res.hugepage_limits]
    if res.unified:
        out["unified"] = dict(res.unified)
    return out


def devices(config: api.ContainerConfig) -> tuple[list[dict], list[dict]]:
    """(linux.devices, device cgroup allow rules) for the requested host devices."""
    nodes, rules = [], []
    for dev in config.devices:
        try:
            st = os.stat(dev.host_path)
        except FileNotFoundError as e:
            raise NotFound(f"cannot add device {dev.host_path}: no such device") from e
        if stat.S_ISBLK(st.st_mode):
            kind = "b"
        elif stat.S_ISCHR(st.st_mode):
            kind = "c"
        else:
            raise InvalidArgument(f"cannot add device {dev.host_path}: not a device node")
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        nodes.append({"path": dev.container_path or dev.host_path, "type": kind,
                      "major": major, "minor": minor, "fileMode": stat.S_IMODE(st.st_mode),
                      "uid": 0, "gid": 0})
        rules.append({"allow": True, "type": kind, "major": major, "minor": minor,
                      "access": dev.permissions or "rwm"})
    return nodes, rules


def seccomp_for(sc: api.LinuxContainerSecurityContext, caps: list[str]) -> dict | None:
    if sc.privileged:
        return None
    if sc.HasField("seccomp"):
        kind, ref = sc.seccomp.profile_type, sc.seccomp.localhost_ref
    elif sc.seccomp_profile_path:
        path = sc.seccomp_profile_path
        if path in ("runtime/default", "docker/default"):
            kind, ref = api.SecurityProfile.RuntimeDefault, ""
        elif path.startswith("localhost/"):
            kind, ref = api.SecurityProfile.Localhost, path[len("localhost/"):]
        elif path == "unconfined":
            return None
        else:
            raise InvalidArgument(f"cannot use seccomp profile {path!r}: unknown kind")
    else:
        return None
    if kind == api.SecurityProfile.Unconfined:
        return None
    if kind == api.SecurityProfile.RuntimeDefault:
        return seccomp_default.profile(caps)
    try:
        with open(ref) as f:
            return json.load(f)
    except FileNotFoundError as e:
        raise NotFound(f"cannot load seccomp profile {ref}: no such file") from e
    except ValueError as e:
        raise InvalidArgument(f"cannot load seccomp profile {ref}: {e}") from e


def build(plan: ContainerPlan) -> dict:
    """The runtime spec (config.json) for ``plan``."""
    config, sb = plan.config, plan.sandbox
    sc = config.linux.security_context
    caps, ambient = capabilities_for(sc)
    res = config.linux.resources
    process = {
        "terminal": config.tty, "args": plan.args, "env": plan.env, "cwd": plan.cwd or "/",
        "user": {"uid": plan.uid, "gid": plan.gid,
                 **({"additionalGids": plan.groups} if plan.groups else {})},
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps,
                         "inheritable": ambient, "ambient": ambient},
        "noNewPrivileges": sc.no_new_privs,
        "oomScoreAdj": clamp_oom_score_adj(res.oom_score_adj, plan.oom_score_floor),
    }
    linux_res = resources(res)
    dev_nodes, dev_rules = devices(config)
    if sc.privileged:
        linux_res["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        linux_res["devices"] = [{"allow": False, "access": "rwm"}, *_default_device_rules(),
                                *dev_rules]
    linux = {
        "namespaces": namespaces(plan),
        "cgroupsPath": f"{sb.cgroup_parent.rstrip('/')}/hull-{plan.container_id}",
        "resources": linux_res,
        "sysctl": dict(sb.sysctls),
        "devices": dev_nodes,
    }
    if not sc.privileged:
        linux["maskedPaths"] = list(sc.masked_paths) or list(DEFAULT_MASKED)
        linux["readonlyPaths"] = list(sc.readonly_paths) or list(DEFAULT_READONLY)
    propagations = {m.propagation for m in config.mounts}
    if api.PROPAGATION_BIDIRECTIONAL in propagations:
        linux["rootfsPropagation"] = "rshared"   # else the mount cannot reach the host
    elif api.PROPAGATION_HOST_TO_CONTAINER in propagations:
        linux["rootfsPropagation"] = "rslave"
    if sb.uid_mappings:
        linux["uidMappings"] = sb.uid_mappings
        linux["gidMappings"] = sb.gid_mappings
    seccomp = seccomp_for(sc, caps)
    if seccomp:
        linux["seccomp"] = seccomp
    mounts = base_mounts(sc, sb)
    if sc.privileged:
        mounts = [m for m in mounts if m["destination"] not in ("/dev",)]
        mounts.insert(1, {"destination": "/dev", "type": "bind", "source": "/dev",
                          "options": ["rbind", "rprivate", "rw"]})
        mounts = [m for m in mounts if m["destination"] != "/dev/pts"]
    mounts += etc_mounts(plan) + plan.mounts
    spec = {"ociVersion": OCI_VERSION, "process": process,
            "root": {"path": plan.rootfs, "readonly": sc.readonly_rootfs},
            "mounts": _ordered(mounts), "linux": linux,
            "annotations": {"io.kubernetes.cri.container-type": "container"}}
    return spec


def _default_device_rules() -> list[dict]:
    # /dev/null, zero, full, random, urandom, tty, console, ptmx, pts/*
    return [{"allow": True, "type": "c", "major": 1, "minor": m, "access": "rwm"}
            for m in (3, 5, 7, 8, 9)] + [
        {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
        {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
        {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
        {"allow": True, "type": "c", "major": 136, "access": "rwm"},
        {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"}]


def _ordered(mounts: list[dict]) -> list[dict]:
    """Later mounts with the same destination win; parents before children."""
    seen: dict[str, dict] = {}
    for m in mounts:
        seen[os.path.normpath(m["destination"])] = m
    return sorted(seen.values(), key=lambda m: os.path.normpath(m["destination"]).count("/"))


def user_mounts(config: api.ContainerConfig, rro_supported: bool) -> list[dict]:
    """Host-path mounts of the CRI config (image volumes are resolved by the caller)."""
    found = []
    for m in config.mounts:
        if m.HasField("image") and m.image.image:
            continue
        if not m.container_path:
            raise InvalidArgument("cannot mount volume: container_path is empty")
        if not os.path.exists(m.host_path):
            raise NotFound(f"cannot mount {m.host_path} at {m.container_path}: "
                           f"host path does not exist")
        found.append(bind_mount(m, os.path.realpath(m.host_path), rro_supported))
    return found


def bind_mount(m: api.Mount, source: str, rro_supported: bool) -> dict:
    options = ["rbind", PROPAGATION.get(m.propagation, "rprivate")]
    if m.recursive_read_only:
        if not m.readonly:
            raise InvalidArgument(f"cannot mount {m.container_path} recursive read-only: "
                                  f"readonly must be set too")
        if m.propagation != api.PROPAGATION_PRIVATE:
            raise InvalidArgument(f"cannot mount {m.container_path} recursive read-only: "
                                  f"propagation must be private")
        if not rro_supported:
            raise InvalidArgument(f"cannot mount {m.container_path} recursive read-only: "
                                  f"the runtime handler does not support it")
        options.append("rro")
    options.append("ro" if m.readonly else "rw")
    return {"destination": m.container_path, "type": "bind", "source": source,
            "options": options}


def infra_spec(container_id: str, sb: SandboxView, rootfs: str, oom_floor: int,
               sandbox_sc: api.LinuxSandboxSecurityContext) -> dict:
    """The pod's infra ("pause") container: holds the shared PID namespace."""
    config = api.ContainerConfig()
    config.linux.security_context.readonly_rootfs = True
    config.linux.security_context.namespace_options.pid = api.CONTAINER
    config.linux.resources.oom_score_adj = -998
    if sandbox_sc.HasField("seccomp"):
        config.linux.security_context.seccomp.CopyFrom(sandbox_sc.seccomp)
    plan = ContainerPlan(container_id=container_id, config=config,
                         sandbox=SandboxView(**{**sb.__dict__, "infra_pid": 0}),
                         rootfs=rootfs, args=["/pause"], env=[f"PATH={DEFAULT_PATH}"], cwd="/",
                         uid=sandbox_sc.run_as_user.value if sandbox_sc.HasField("run_as_user")
                         else 0,
                         gid=sandbox_sc.run_as_group.value if sandbox_sc.HasField("run_as_group")
                         else 0,
                         groups=[], oom_score_floor=oom_floor)
    spec = build(plan)
    spec["process"]["capabilities"] = {k: [] for k in spec["process"]["capabilities"]}
    spec["annotations"]["io.kubernetes.cri.container-type"] = "sandbox"
    return spec
