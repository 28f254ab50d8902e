"""The fork chain behind ``create``, child side.

    hull-runc create (parent)      validates, makes state dir and cgroup, forks
     └─ child stage                joins/unshares namespaces, forks again, exits
         └─ init stage (pid 1)     rootfs, pivot_root, hostname, sysctls, user,
                                   capabilities; says "ready"; blocks opening
                                   exec.fifo until ``start``; execs the process

Both stages run in the forked copy of hull-runc and must never return into
its stack: every path ends in ``posix._exit``. Errors go to the parent as one
message on the sync channel; the parent undoes everything.
"""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull import errors
from hull.oci import process as proc
from hull.oci import rootfs
from hull.oci.sync import Channel

CHILD_FAILED = 1


class InitPlan:
    """Everything the two stages need, computed before the fork."""

    def __init__(self, *, container_id: str, config: dict, channel: Channel,
                 rootfs_plan: rootfs.RootfsPlan, process_plan: proc.ProcessPlan,
                 state_dir_fd: int, new_namespaces: int, join_namespaces: list[tuple[str, str]],
                 new_userns: bool, join_userns: str | None):
        self.container_id = container_id
        self.config = config
        self.channel = channel
        self.rootfs = rootfs_plan
        self.process = process_plan
        self.state_dir_fd = state_dir_fd
        self.new_namespaces = new_namespaces
        self.join_namespaces = join_namespaces
        self.new_userns = new_userns
        self.join_userns = join_userns
        linux = config.get("linux") or {}
        self.new_mount_ns = any(n.get("type") == "mount" and not n.get("path")
                                for n in linux.get("namespaces") or [])
        self.hooks = config.get("hooks") or {}
        self.sysctl = linux.get("sysctl") or {}
        self.time_offsets = linux.get("timeOffsets") or {}


def preload(plan: InitPlan) -> None:
    """Import now what the init imports lazily: after pivot_root the host's
    files, our own source included, are out of reach."""
    import _signal  # noqa: F401

    from hull.sys import fds, limits, ns  # noqa: F401

    if plan.hooks:
        import select  # noqa: F401

        from hull.oci import hooks  # noqa: F401
    if plan.process.console_fd >= 0 or plan.process.listener_socket >= 0:
        from hull.sys import console  # noqa: F401

    if plan.process.process.get("capabilities") is not None:
        from hull.sys import capabilities  # noqa: F401
    if plan.process.seccomp_prog is not None:
        from hull.sys import seccomp  # noqa: F401


def run_child_stage(plan: InitPlan) -> None:
    """First fork: namespaces, then the second fork (pid 1 of a new pid namespace)."""
    channel = plan.channel.child_side()
    code = CHILD_FAILED
    try:
        from hull.sys import ns

        ns.set_dumpable(False)    # nothing in the container may ptrace or read our memory
        ns.set_parent_death_signal(9)
        if channel.receive() is None:   # the parent put us into the cgroup first
            posix._exit(code)
        _enter_namespaces(plan, channel, ns)
        pid = posix.fork()
        if pid == 0:
            run_init_stage(plan, channel)
        channel.send("init", pid=pid)
        code = 0
    except BaseException as e:  # noqa: BLE001 - everything goes to the parent, then _exit
        channel.report(e)
    finally:
        posix._exit(code)


def _enter_namespaces(plan: InitPlan, channel: Channel, ns) -> None:
    opened = []
    try:  # open every path first: joining a mount namespace changes what paths mean
        for kind, path in plan.join_namespaces:
            opened.append((kind, path, posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)))
    except OSError as e:
        raise errors.from_oserror(e, "cannot open namespace to join") from e
    if plan.join_userns:
        _setns_path(ns, "user", plan.join_userns)
    for kind, path, fd in opened:
        try:
            ns.setns(fd, ns.NAMESPACES[kind][0])
        except OSError as e:
            raise errors.from_oserror(e, f"cannot join {kind} namespace {path}") from e
        finally:
            posix.close(fd)
    if plan.join_userns:
        # Become root of the joined namespace, as after creating one: host uid 0
        # is unmapped there, and mounts like devpts fail with EOVERFLOW.
        posix.setresgid(0, 0, 0)
        posix.setresuid(0, 0, 0)
    if plan.new_userns:
        ns.unshare(ns.NAMESPACES["user"][0])
        channel.send("userns")
        if channel.receive() is None:
            posix._exit(CHILD_FAILED)
        posix.setresgid(0, 0, 0)
        posix.setresuid(0, 0, 0)
    if plan.new_namespaces:
        try:
            ns.unshare(plan.new_namespaces)
        except OSError as e:
            raise errors.from_oserror(e, "cannot create namespaces") from e
    if plan.time_offsets:
        _write_time_offsets(plan.time_offsets)


def _setns_path(ns, kind: str, path: str) -> None:
    try:
        ns.join(path, kind)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot join {kind} namespace {path}") from e


def _write_time_offsets(offsets: dict) -> None:
    lines = [f"{clock} {value.get('secs', 0)} {value.get('nanosecs', 0)}"
             for clock, value in offsets.items()]
    with open("/proc/self/timens_offsets", "w") as f:
        f.write("\n".join(lines) + "\n")


def run_init_stage(plan: InitPlan, channel: Channel) -> None:
    """The container's init: build its world, wait for ``start``, exec."""
    try:
        from hull.sys import ns

        ns.set_parent_death_signal(0)   # our parent (the child stage) exits now
        _name_process(b"hull-runc:init")   # what ps shows while it waits for start
        _die_on_termination_signals()
        posix.setsid()
        _prepare(plan, channel)
        _ready(plan, channel)
        _start_process(plan, _wait_for_start(plan))
    except BaseException as e:  # noqa: BLE001
        channel.report(e)
    finally:
        posix._exit(CHILD_FAILED)


def _name_process(name: bytes) -> None:
    from hull.sys.ffi import addressof, create_string_buffer
    from hull.sys.libc import PR_SET_NAME, prctl

    buffer = create_string_buffer(name)
    prctl(PR_SET_NAME, addressof(buffer))


def _die_on_termination_signals() -> None:
    """As pid 1 of a pid namespace, the init only receives signals it handles:
    without handlers ``kill ID TERM`` on a created container would do nothing.
    execve resets handled signals to their defaults for the real process."""
    import _signal

    def die(number, _frame):
        posix._exit(128 + number)

    for number in (1, 2, 3, 10, 12, 15):   # HUP INT QUIT USR1 USR2 TERM
        _signal.signal(number, die)


def _prepare(plan: InitPlan, channel: Channel) -> None:
    process = plan.process
    host_pid = _host_pid()
    proc.apply_oom_score_adj(process)
    # like runc, the config's mounts are made even without a new mount
    # namespace (they land in the one we share); only the move into the
    # rootfs differs: pivot_root needs a namespace of our own, else chroot
    root_fd = rootfs.prepare(plan.rootfs, own_namespace=plan.new_mount_ns)
    if plan.hooks.get("prestart") or plan.hooks.get("createRuntime"):
        channel.send("hooks")
        if channel.receive() is None:   # the parent failed a hook and is tearing down
            posix._exit(CHILD_FAILED)
    if plan.hooks.get("createContainer"):
        from hull.oci import hooks as hooklib

        hooklib.run_all(plan.hooks["createContainer"], "createContainer",
                        _hook_state(plan, host_pid))
    rootfs.enter(plan.rootfs, root_fd, own_namespace=plan.new_mount_ns)
    posix.close(root_fd)
    _set_names(plan)
    _write_sysctls(plan)   # before readonlyPaths make /proc/sys read-only (runc's order)
    rootfs.finish(plan.rootfs, own_namespace=plan.new_mount_ns)
    if process.new_keyring:
        _join_keyring(plan)
    proc.setup_console(process)
    proc.apply_rlimits(process)
    proc.reset_signals()
    plan.host_pid = host_pid
    seccomp = (plan.config.get("linux") or {}).get("seccomp") or {}
    process.listener_state = {**_hook_state(plan, host_pid), "status": "creating"}
    process.listener_metadata = seccomp.get("listenerMetadata", "")


def _host_pid() -> int:
    """Our pid as the runtime sees it (hooks get this one), from NSpid."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[1])
    return posix.getpid()


def _hook_state(plan: InitPlan, pid: int) -> dict:
    state = {"ociVersion": plan.config.get("ociVersion"), "id": plan.container_id,
             "status": "creating", "pid": pid, "bundle": plan.rootfs.bundle}
    if plan.config.get("annotations"):
        state["annotations"] = plan.config["annotations"]
    return state


def _set_names(plan: InitPlan) -> None:
    from hull.sys.libc import setdomainname, sethostname

    try:
        if plan.config.get("hostname"):
            sethostname(plan.config["hostname"])
        if plan.config.get("domainname"):
            setdomainname(plan.config["domainname"])
    except OSError as e:
        raise errors.from_oserror(e, "cannot set hostname") from e


def _write_sysctls(plan: InitPlan) -> None:
    for key, value in plan.sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise errors.from_oserror(e, f"cannot set linux.sysctl {key}") from e


def _join_keyring(plan: InitPlan) -> None:
    from hull.sys import ns

    try:
        ns.join_session_keyring(f"_ses.{plan.container_id}")
    except OSError as e:
        if e.errno not in (38, 1):  # ENOSYS, EPERM: no keyrings here; runc ignores too
            raise errors.from_oserror(e, "cannot join a session keyring") from e


def _ready(plan: InitPlan, channel: Channel) -> None:
    """Last checks, user switch, fd hygiene; tell create we are ready."""
    process = plan.process
    proc.change_directory(process)
    path = proc.find_executable(process)
    proc.close_host_fds(process)     # before seccomp: a profile may forbid close_range
    if not process.no_new_privileges:
        proc.load_seccomp(process)   # needs privileges we are about to drop
    proc.set_user(process)
    proc.change_directory(process)  # again: the new user may see the directory differently
    proc.set_no_new_privileges(process)
    plan.executable = path
    for warning in process.warnings:
        channel.send("warning", message=warning)
    channel.send("ready")
    channel.close()


def _wait_for_start(plan: InitPlan) -> int:
    """Block until ``start`` opens the fifo for reading; the write end, open.

    The fifo is reached through the state directory's fd, opened before
    pivot_root and close-on-exec: no host path is needed inside the
    container, and nothing of it survives the execve.
    """
    fd = posix.open("exec.fifo", posix.O_WRONLY | posix.O_CLOEXEC, dir_fd=plan.state_dir_fd)
    posix.close(plan.state_dir_fd)
    return fd


def _start_process(plan: InitPlan, fifo: int) -> None:
    """startContainer hooks, then the byte ``start`` waits for, then exec: so
    poststart hooks (run by ``start`` once it has the byte) come after them,
    and a failing startContainer hook fails ``start``."""
    if plan.hooks.get("startContainer"):
        from hull.oci import hooks as hooklib

        hooklib.run_all(plan.hooks["startContainer"], "startContainer",
                        {**_hook_state(plan, plan.host_pid), "status": "created"})
    posix.write(fifo, b"0")
    posix.close(fifo)
    if plan.process.no_new_privileges:
        proc.load_seccomp(plan.process)
    proc.execute(plan.process, plan.executable)
