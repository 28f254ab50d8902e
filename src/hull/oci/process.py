"""The last steps before a container process execs, shared by the init and
``exec``: console, rlimits, cwd, user and groups, capabilities,
no_new_privs, seccomp, fd hygiene, and finding the executable.

Runs in the forked child only; errors are HullErrors whose message the
child sends back to hull-runc over the sync channel.
"""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why
import stat

from hull import errors
from hull.spec.runtime import RLIMITS
from hull.sys import pathname

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ProcessPlan:
    """One process to start in a container, prepared before the fork."""

    def __init__(self, process: dict, *, container_id: str, preserve_fds: int = 0,
                 console_fd: int = -1, seccomp_prog: bytes | None = None,
                 seccomp_flags: list[str] | None = None, seccomp_listener: str = "",
                 new_keyring: bool = False, in_userns: bool = False):
        self.process = process
        self.container_id = container_id
        self.preserve_fds = preserve_fds
        self.console_fd = console_fd
        self.seccomp_prog = seccomp_prog
        self.seccomp_flags = seccomp_flags or []
        self.seccomp_listener = seccomp_listener
        self.new_keyring = new_keyring
        self.in_userns = in_userns
        self.env = list(process.get("env") or [])
        self.listener_state: dict = {}     # what a seccomp agent gets with the fd
        self.listener_metadata = ""
        self.listener_socket = -1          # connected to seccomp_listener before the fork
        self.warnings: list[str] = []

    @property
    def no_new_privileges(self) -> bool:
        return bool(self.process.get("noNewPrivileges"))


def setup_console(plan: ProcessPlan) -> None:
    """A pty from the container's devpts: master to the console socket, slave as stdio."""
    if plan.console_fd < 0:
        return
    from hull.sys import console
    try:
        master, slave, name = console.open_pty("/dev/ptmx")
        size = plan.process.get("consoleSize")
        if size:
            console.set_window_size(slave, size["height"], size["width"])
        console.send_fd(plan.console_fd, master, name)
    except OSError as e:
        raise errors.from_oserror(e, "cannot set up the console") from e
    posix.close(master)
    posix.close(plan.console_fd)
    plan.console_fd = -1
    for fd in (0, 1, 2):
        posix.dup2(slave, fd)
    posix.close(slave)
    console.make_controlling_terminal(0)


def apply_rlimits(plan: ProcessPlan) -> None:
    from hull.sys import limits

    for rlimit in plan.process.get("rlimits") or []:
        number = RLIMITS[rlimit["type"]]
        soft, hard = rlimit["soft"], rlimit["hard"]
        try:
            limits.set(number, soft, hard)
        except OSError:
            # raising a hard limit needs CAP_SYS_RESOURCE: keep the current hard one
            current_hard = limits.get(number)[1]
            clamped = min(soft, current_hard) if current_hard >= 0 else soft
            try:
                limits.set(number, clamped, current_hard)
            except OSError as e:
                raise errors.from_oserror(
                    e, f"cannot set {rlimit['type']} to {soft}/{hard}") from e
            plan.warnings.append(f"{rlimit['type']}: hard limit {hard} not allowed here, "
                                 f"kept {current_hard} (soft {clamped})")


def apply_oom_score_adj(plan: ProcessPlan, pid: str = "self") -> None:
    value = plan.process.get("oomScoreAdj")
    if value is None:
        return
    path = f"/proc/{pid}/oom_score_adj"
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except PermissionError:
        # lowering it needs CAP_SYS_RESOURCE: clamp to the current value, like containerd
        with open(path) as f:
            current = int(f.read())
        plan.warnings.append(f"oomScoreAdj {value} not allowed here, kept {current}")


def change_directory(plan: ProcessPlan) -> None:
    cwd = plan.process.get("cwd") or "/"
    try:
        posix.chdir(cwd)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot change to process.cwd {cwd}") from e


def find_executable(plan: ProcessPlan) -> str:
    """process.args[0] resolved like execvp would, in the container's PATH."""
    name = plan.process["args"][0]
    if "/" in name:
        candidates = [name]
    else:
        path = next((e[5:] for e in reversed(plan.env) if e.startswith("PATH=")), DEFAULT_PATH)
        candidates = [pathname.join(d or ".", name) for d in path.split(":")]
    for candidate in candidates:
        try:
            st = posix.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and posix.access(candidate, posix.X_OK):
            return candidate
    where = "" if "/" in name else " in $PATH"
    raise errors.NotFound(f'exec: "{name}": executable file not found{where} '
                          "(process.args[0])")


def set_user(plan: ProcessPlan) -> None:
    """Groups, gid, uid and the five capability sets, in the order that keeps
    the capabilities we still need until the last step."""
    user = plan.process.get("user") or {}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    caps_config = plan.process.get("capabilities")
    caps = _capabilities() if caps_config is not None else None
    masks = {}
    if caps is not None:
        grantable = caps.bounding()
        masks = {name: caps.parse(caps_config.get(name) or [], grantable=grantable)
                 for name in ("bounding", "effective", "permitted", "inheritable", "ambient")}
        caps.drop_bounding(masks["bounding"])
        caps.set_keepcaps(True)
    try:
        if not plan.in_userns or _setgroups_allowed():
            posix.setgroups(list(user.get("additionalGids") or []))
        posix.setresgid(gid, gid, gid)
        posix.setresuid(uid, uid, uid)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot set process.user {uid}:{gid}") from e
    if caps is not None:
        caps.set_keepcaps(False)
        caps.capset(masks["effective"], masks["permitted"], masks["inheritable"])
        # the kernel refuses ambient caps missing from inheritable or permitted
        # (runc's default config has no inheritable set): raise what it allows
        caps.set_ambient(masks["ambient"] & masks["inheritable"] & masks["permitted"])
    if user.get("umask") is not None:
        posix.umask(user["umask"])
    else:
        posix.umask(0o022)


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "allow"
    except OSError:
        return True


def _capabilities():
    from hull.sys import capabilities

    return capabilities


def set_no_new_privileges(plan: ProcessPlan) -> None:
    if plan.no_new_privileges:
        from hull.sys import ns

        ns.set_no_new_privs()


def load_seccomp(plan: ProcessPlan) -> None:
    if plan.seccomp_prog is None:
        return
    from hull.sys import seccomp

    try:
        listener = seccomp.load_filter(plan.seccomp_prog, plan.seccomp_flags)
    except OSError as e:
        raise errors.from_oserror(e, "cannot load the seccomp filter") from e
    plan.seccomp_prog = None
    if listener is not None:
        _send_listener(plan, listener)


def _send_listener(plan: ProcessPlan, listener: int) -> None:
    """SCMP_ACT_NOTIFY: hand the listener fd to linux.seccomp.listenerPath with
    the container process state (runtime-spec). The socket was connected by
    hull-runc before the fork: after pivot_root the host path is out of reach."""
    from hull.oci import jsonio
    from hull.sys import console

    try:
        if plan.listener_socket >= 0:
            state = plan.listener_state
            message = {"ociVersion": state.get("ociVersion", "1.0.2"), "fds": ["seccompFd"],
                       "pid": state.get("pid", 0), "metadata": plan.listener_metadata,
                       "state": state}
            try:
                console.send_fd(plan.listener_socket, listener, jsonio.dumps(message))
            except OSError as e:
                raise errors.from_oserror(
                    e, f"cannot send the seccomp listener to {plan.seccomp_listener}") from e
            finally:
                posix.close(plan.listener_socket)
                plan.listener_socket = -1
    finally:
        posix.close(listener)


def close_host_fds(plan: ProcessPlan) -> None:
    """Only stdio and --preserve-fds may cross exec (CVE-2024-21626 class)."""
    from hull.sys import fds

    first_closed = 3 + plan.preserve_fds
    fds.cloexec_from(first_closed)
    for fd in range(3, first_closed):
        try:
            posix.set_inheritable(fd, True)
        except OSError:
            pass


def reset_signals() -> None:
    """Python ignores SIGPIPE and SIGXFSZ; ignored signals would survive execve."""
    import _signal

    for number in (13, 25):
        _signal.signal(number, _signal.SIG_DFL)


def execute(plan: ProcessPlan, path: str) -> None:
    args = plan.process["args"]
    env = dict(entry.split("=", 1) for entry in plan.env)
    try:
        posix.execve(path, args, env)
    except OSError as e:
        raise errors.from_oserror(e, f"cannot exec {args[0]}") from e
