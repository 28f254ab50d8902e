"""A bundle's config.json, loaded, validated and turned into the plans the
fork chain runs; every check that needs no new namespace happens here,
before anything is created."""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull import errors
from hull.oci import jsonio
from hull.spec import runtime as spec
from hull.sys import pathname

# sysctl prefixes and the namespace that makes them safe to set (runc's list)
_SYSCTL_NAMESPACES = (("kernel.msg", "ipc"), ("kernel.sem", "ipc"), ("kernel.shm", "ipc"),
                      ("fs.mqueue.", "ipc"), ("net.", "network"),
                      ("kernel.hostname", "uts"), ("kernel.domainname", "uts"))


class Loaded:
    def __init__(self, bundle: str, config: dict, rootfs: str):
        self.bundle = bundle
        self.config = config
        self.rootfs = rootfs


def read_config(bundle: str, what: str) -> dict:
    path = pathname.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise errors.NotFound(f"{what}: bundle {bundle} has no config.json") from None
    except OSError as e:
        raise errors.from_oserror(e, f"{what}: cannot read {path}") from e
    try:
        return jsonio.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.InvalidArgument(f"{what}: config.json is not valid JSON: {e}") from e


def load(bundle: str, what: str) -> Loaded:
    config = read_config(bundle, what)
    try:
        spec.validate(config)
    except errors.InvalidArgument as e:
        raise errors.InvalidArgument(f"{what}: config.json: {e}") from e
    rootfs = config["root"]["path"]
    rootfs = pathname.join(bundle, rootfs)
    try:
        rootfs = pathname.resolve_dir(rootfs)
    except OSError:
        raise errors.NotFound(f"{what}: root.path: rootfs {rootfs} does not exist") from None
    return Loaded(bundle, config, rootfs)


class Prepared:
    """The checked config, the namespaces to make or join, the seccomp program."""

    def __init__(self, loaded: Loaded, container_id: str, options, what: str):
        self.loaded = loaded
        self.config = loaded.config
        self.container_id = container_id
        self.options = options
        linux = self.config.get("linux") or {}
        self.linux = linux
        self.process = self.config["process"]
        self._namespaces(linux, what)
        self._check_names(what)
        self._check_sysctls(linux, what)
        self._check_capabilities(what)
        self._check_security_labels(what)
        self.seccomp_prog, self.seccomp_flags = compile_seccomp(linux, what)
        if self.process.get("terminal") and not options.console_socket:
            raise errors.InvalidArgument(
                f"{what}: process.terminal is true but no --console-socket was given")

    def _namespaces(self, linux: dict, what: str) -> None:
        from hull.sys.ns import NAMESPACES

        self.kinds = {}
        self.new_flags = 0
        self.joins: list[tuple[str, str]] = []
        self.join_userns = None
        self.new_userns = False
        for i, entry in enumerate(linux.get("namespaces") or []):
            kind, path = entry["type"], entry.get("path") or ""
            self.kinds[kind] = path
            if path and not pathname.exists(path):
                raise errors.NotFound(f"{what}: linux.namespaces[{i}].path: {path} "
                                      "does not exist")
            if kind == "user":
                self.new_userns = not path
                self.join_userns = path or None
            elif path:
                self.joins.append((kind, path))
            else:
                self.new_flags |= NAMESPACES[kind][0]
        if self.new_userns and not (linux.get("uidMappings") and linux.get("gidMappings")):
            raise errors.InvalidArgument(f"{what}: linux.uidMappings: a new user namespace "
                                         "needs uidMappings and gidMappings")

    def _check_names(self, what: str) -> None:
        for field in ("hostname", "domainname"):
            if self.config.get(field) and "uts" not in self.kinds:
                raise errors.InvalidArgument(
                    f"{what}: {field}: setting it needs a uts namespace of the container")

    def _check_sysctls(self, linux: dict, what: str) -> None:
        for key in linux.get("sysctl") or {}:
            needed = next((ns for prefix, ns in _SYSCTL_NAMESPACES if key.startswith(prefix)),
                          None)
            if needed is None:
                raise errors.InvalidArgument(f"{what}: linux.sysctl.{key}: not namespaced, "
                                             "so a container may not set it")
            if needed not in self.kinds:
                raise errors.InvalidArgument(f"{what}: linux.sysctl.{key}: needs a "
                                             f"{needed} namespace of the container's own")

    def _check_security_labels(self, what: str) -> None:
        """Like runc: a profile or label the host cannot enforce is an error,
        not something to drop silently."""
        if self.process.get("apparmorProfile") and not _apparmor_enabled():
            raise errors.InvalidArgument(f"{what}: process.apparmorProfile: AppArmor is not "
                                         "enabled on this host")
        for field, value in (("process.selinuxLabel", self.process.get("selinuxLabel")),
                             ("linux.mountLabel", self.linux.get("mountLabel"))):
            if value and not pathname.exists("/sys/fs/selinux/enforce"):
                raise errors.InvalidArgument(f"{what}: {field}: SELinux is not enabled on "
                                             "this host")

    def _check_capabilities(self, what: str) -> None:
        """Unknown names, and names this kernel has but no process here could
        grant (missing from our bounding set), are errors: the runtime-spec
        says a capability that "cannot be granted otherwise MUST cause an
        error", and runc refuses them too. Names newer than the kernel are
        skipped, as runc does."""
        caps = self.process.get("capabilities")
        if not caps:
            return
        from hull.sys import capabilities

        known, top = capabilities.names(), capabilities.last_cap()
        grantable = capabilities.bounding()
        for kind, values in caps.items():
            field = f"process.capabilities.{kind}"
            for name in values:
                number = known.index(name) if name in known else top + 1
                if number <= top and not grantable >> number & 1:
                    raise errors.PermissionDenied(
                        f"{what}: {field}: {name} cannot be granted: it is not in "
                        "the runtime's own bounding set")
            try:
                capabilities.parse(values, field, grantable)
            except errors.InvalidArgument as e:
                raise errors.InvalidArgument(f"{what}: {e}") from e

    def init_plan(self, state):
        from hull.oci import init, rootfs
        from hull.oci.process import ProcessPlan
        from hull.sys.fds import move_above

        floor = 3 + self.options.preserve_fds
        console_fd = -1
        if self.process.get("terminal"):
            console_fd = connect_console(self.options.console_socket, floor)
        state_dir_fd = move_above(
            posix.open(state.dir, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC), floor)
        in_userns = self.new_userns or bool(self.join_userns)
        process_plan = ProcessPlan(
            self.process, container_id=self.container_id,
            preserve_fds=self.options.preserve_fds + listen_fds(), console_fd=console_fd,
            seccomp_prog=self.seccomp_prog, seccomp_flags=self.seccomp_flags,
            seccomp_listener=(self.linux.get("seccomp") or {}).get("listenerPath", ""),
            new_keyring=not self.options.no_new_keyring, in_userns=in_userns)
        if process_plan.seccomp_listener and self.seccomp_prog is not None:
            process_plan.listener_socket = connect_console(process_plan.seccomp_listener, floor)
        rootfs_plan = rootfs.RootfsPlan(
            self.config, self.loaded.rootfs, self.loaded.bundle,
            no_pivot=self.options.no_pivot, in_userns=in_userns,
            new_cgroupns=self.kinds.get("cgroup") == "")
        return init.InitPlan(
            container_id=self.container_id, config=self.config, channel=_channel(floor),
            rootfs_plan=rootfs_plan, process_plan=process_plan, state_dir_fd=state_dir_fd,
            new_namespaces=self.new_flags, join_namespaces=self.joins,
            new_userns=self.new_userns, join_userns=self.join_userns)

    def write_id_maps(self, pid: int) -> None:
        for key, name in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
            lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n"
                            for m in self.linux.get(key) or [])
            try:
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(lines)
            except OSError as e:
                raise errors.from_oserror(e, f"cannot write linux.{key}") from e


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def _channel(floor: int):
    from hull.oci.sync import Channel

    return Channel(floor)


def prepare(loaded: Loaded, container_id: str, options, what: str) -> Prepared:
    return Prepared(loaded, container_id, options, what)


def connect_console(path: str, floor: int) -> int:
    """A connected unix socket (console socket, seccomp agent) above ``floor``."""
    from hull.sys import console
    from hull.sys.fds import move_above

    try:
        return move_above(console.connect_unix(path), floor)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot connect to {path}") from e


def listen_fds() -> int:
    """fds a socket-activating caller passed (systemd's LISTEN_FDS), kept like runc."""
    value = posix.environ.get(b"LISTEN_FDS", b"").decode(errors="replace")
    return int(value) if value.isdigit() else 0


def compile_seccomp(linux: dict, what: str) -> tuple[bytes | None, list[str]]:
    seccomp = linux.get("seccomp")
    if not seccomp:
        return None, []
    from hull.sys import seccomp as libseccomp

    try:
        program = libseccomp.compile_filter(seccomp)
    except errors.InvalidArgument as e:
        raise errors.InvalidArgument(f"{what}: linux.seccomp: {e}") from e
    return program, list(seccomp.get("flags") or [])
