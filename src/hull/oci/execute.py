"""``exec``: start another process inside a running container.

    hull-runc exec (parent, subreaper)   forks; puts the child in the cgroup
     └─ child                            setns into the init's namespaces, forks
         └─ process                      user, caps, seccomp, fds; execve

The parent learns the process started when the sync pipe closes on exec
(close-on-exec) and an error otherwise. Without ``detach`` it waits for
the process, which was reparented to it, and returns its exit code.
"""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull import errors
from hull.oci import bundle as bundlelib
from hull.oci import process as proc
from hull.oci.log import NULL, Log
from hull.oci.state import State, Store, write_atomic
from hull.oci.status import Status
from hull.oci.sync import Channel
from hull.spec import runtime as spec
from hull.sys import pathname

# setns order: the user namespace first (it grants the rights for the rest),
# the mount namespace last (joining it changes what paths mean)
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


class ExecOptions:
    def __init__(self, process: dict, detach: bool = False, pid_file: str = "",
                 console_socket: str = "", preserve_fds: int = 0,
                 ignore_paused: bool = False):
        self.process = process
        self.detach = detach
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.preserve_fds = preserve_fds
        self.ignore_paused = ignore_paused


def process_from_args(base: dict, args: list[str], *, tty: bool = False, cwd: str = "",
                      env: list[str] = (), user: str = "", additional_gids: list[str] = (),
                      caps: list[str] = (), no_new_privs: bool = False) -> dict:
    """runc's rules for ``exec ID ARGS``: the container's process, overridden."""
    process = _copy_json(base)
    process["args"] = list(args)
    process["terminal"] = tty
    process.pop("consoleSize", None)
    if cwd:
        process["cwd"] = cwd
    if env:
        process["env"] = list(process.get("env") or []) + list(env)
    if user:
        uid, _, gid = user.partition(":")
        try:
            process["user"] = {**(process.get("user") or {}), "uid": int(uid),
                               "gid": int(gid) if gid else 0}
        except ValueError:
            raise errors.InvalidArgument(f"invalid --user {user!r} (want UID[:GID])") from None
    if additional_gids:
        try:
            gids = [int(g) for g in additional_gids]
        except ValueError:
            raise errors.InvalidArgument("invalid --additional-gids (want numbers)") from None
        process.setdefault("user", {"uid": 0, "gid": 0})["additionalGids"] = gids
    if caps:
        sets = process.setdefault("capabilities", {})
        kinds = ["bounding", "effective", "permitted"]
        if sets.get("inheritable") is not None:
            kinds.append("ambient")
        for kind in kinds:
            sets[kind] = list(sets.get(kind) or []) + list(caps)
    if no_new_privs:
        process["noNewPrivileges"] = True
    return process


def exec_process(store: Store, container_id: str, options: ExecOptions,
                 log: Log = NULL) -> int:
    what = f"cannot exec in container {container_id}"
    state = store.load(container_id)
    status = state.status()
    if not status.can_exec(options.ignore_paused):
        if status is Status.PAUSED:
            raise errors.FailedPrecondition(
                f"{what}: it is paused (use --ignore-paused to override)")
        raise errors.FailedPrecondition(f"{what}: it is {status}")
    try:
        spec.validate_process(options.process)
    except errors.InvalidArgument as e:
        raise errors.InvalidArgument(f"{what}: {e}") from e
    proxy = None
    if options.process.get("terminal") and not options.console_socket:
        if options.detach:
            raise errors.InvalidArgument(f"{what}: --tty with --detach needs --console-socket")
        from hull.oci.tty import ConsoleProxy

        proxy = ConsoleProxy()   # a person at a terminal: relay it, as runc does
        options.console_socket = proxy.path
    try:
        plan = _plan(state, options, what)
        from hull.sys import ns

        if not options.detach:
            ns.set_child_subreaper()  # the process is reparented to us when the child exits
        pid = _spawn(state, plan, options, what)
        if proxy is not None:
            proxy.receive()
    finally:
        if proxy is not None:
            proxy.close_listener()
    if options.pid_file:
        write_atomic(pathname.abspath(options.pid_file), str(pid), 0o644)
    if options.detach:
        return 0
    if proxy is not None:
        proxy.copy_until_exit(pid)
    return wait_forwarding_signals(pid)


def _plan(state: State, options: ExecOptions, what: str) -> proc.ProcessPlan:
    linux = state.config.get("linux") or {}
    program, flags = bundlelib.compile_seccomp(linux, what)
    floor = 3 + options.preserve_fds
    console_fd = -1
    if options.process.get("terminal"):
        console_fd = bundlelib.connect_console(options.console_socket, floor)
    in_userns = any(n.get("type") == "user" for n in linux.get("namespaces") or [])
    plan = proc.ProcessPlan(options.process, container_id=state.id,
                            preserve_fds=options.preserve_fds, console_fd=console_fd,
                            seccomp_prog=program, seccomp_flags=flags,
                            seccomp_listener=(linux.get("seccomp") or {}).get("listenerPath", ""),
                            in_userns=in_userns)
    if plan.seccomp_listener and program is not None:
        plan.listener_socket = bundlelib.connect_console(plan.seccomp_listener, floor)
    plan.listener_state = state.hook_state(Status.RUNNING)
    plan.listener_metadata = (linux.get("seccomp") or {}).get("listenerMetadata", "")
    return plan


def _spawn(state: State, plan: proc.ProcessPlan, options: ExecOptions, what: str) -> int:
    channel = Channel(3 + options.preserve_fds)
    _preload(plan)
    joins = _namespaces_to_join(state)
    child = posix.fork()
    if child == 0:
        _run_child(state, plan, channel, joins)   # never returns
    channel.parent_side()
    for fd in (plan.console_fd, plan.listener_socket):
        if fd >= 0:
            posix.close(fd)
    try:
        manager = state.cgroup_manager()
        if manager is not None:
            manager.apply(child)
        channel.send("go")
        pid = 0
        while True:
            message = channel.receive()
            if message is None:
                break
            if message["type"] == "init":
                pid = message["pid"]
                _reap(child)
            elif message["type"] == "error":
                category = getattr(errors, message.get("category", ""), errors.Internal)
                raise category(f"{what}: {message['message']}")
        if not pid:
            raise errors.Internal(f"{what}: the process exited before exec")
        return pid
    finally:
        channel.close()
        _reap(child)


def _preload(plan: proc.ProcessPlan) -> None:
    import _signal  # noqa: F401

    from hull.sys import fds, limits, ns  # noqa: F401

    if plan.console_fd >= 0 or plan.listener_socket >= 0:
        from hull.sys import console  # noqa: F401

    if plan.process.get("capabilities") is not None:
        from hull.sys import capabilities  # noqa: F401
    if plan.seccomp_prog is not None:
        from hull.sys import seccomp  # noqa: F401


def _namespaces_to_join(state: State) -> list[tuple[str, str]]:
    from hull.sys.ns import NAMESPACES, same_namespace

    joins = []
    for kind in JOIN_ORDER:
        try:
            if not same_namespace(state.pid, kind):
                joins.append((kind, f"/proc/{state.pid}/ns/{NAMESPACES[kind][1]}"))
        except FileNotFoundError:
            continue  # the kernel lacks that namespace type
    return joins


def _run_child(state: State, plan: proc.ProcessPlan, channel: Channel,
               joins: list[tuple[str, str]]) -> None:
    channel.child_side()
    code = 1
    try:
        from hull.sys import ns

        ns.set_dumpable(False)
        ns.set_parent_death_signal(9)
        if channel.receive() is None:
            posix._exit(1)
        fds = [(kind, posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)) for kind, path in joins]
        for kind, fd in fds:
            try:
                ns.setns(fd, ns.NAMESPACES[kind][0])
            except OSError as e:
                raise errors.from_oserror(e, f"cannot join the container's {kind} namespace")
            posix.close(fd)
        if state.no_pivot:
            posix.chroot("/")
        pid = posix.fork()
        if pid == 0:
            _run_process(plan, channel)
        channel.send("init", pid=pid)
        code = 0
    except BaseException as e:  # noqa: BLE001
        channel.report(e)
    finally:
        posix._exit(code)


def _run_process(plan: proc.ProcessPlan, channel: Channel) -> None:
    try:
        from hull.sys import ns

        ns.set_parent_death_signal(0)
        if plan.console_fd >= 0:
            posix.setsid()
        proc.apply_oom_score_adj(plan)
        proc.setup_console(plan)
        proc.apply_rlimits(plan)
        proc.reset_signals()
        proc.change_directory(plan)
        path = proc.find_executable(plan)
        proc.close_host_fds(plan)
        if not plan.no_new_privileges:
            proc.load_seccomp(plan)
        proc.set_user(plan)
        proc.change_directory(plan)
        proc.set_no_new_privileges(plan)
        if plan.no_new_privileges:
            proc.load_seccomp(plan)
        proc.execute(plan, path)
    except BaseException as e:  # noqa: BLE001
        channel.report(e)
    finally:
        posix._exit(1)


def _reap(pid: int) -> None:
    try:
        posix.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _copy_json(value):
    """copy.deepcopy for JSON data (copy loads types, weakref and copyreg)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


FORWARDED_SIGNALS = (1, 2, 3, 10, 12, 15, 28)  # HUP INT QUIT USR1 USR2 TERM WINCH


def wait_forwarding_signals(pid: int) -> int:
    """Wait for ``pid`` (our child by reparenting); pass our signals on to it.

    Returns its exit code, or 128 + the signal that killed it (what a shell reports).
    """
    import _signal

    def forward(number, _frame):
        try:
            posix.kill(pid, number)
        except ProcessLookupError:
            pass

    for number in FORWARDED_SIGNALS:
        _signal.signal(number, forward)
    while True:
        try:
            waited, status = posix.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        if waited == pid:
            break
    code = posix.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code
