"""``create``: validate the bundle, make the container's state, cgroup and
namespaces, and leave its init blocked until ``start``.

Everything that can be checked is checked before the fork. After it, the
children report over the sync channel; any failure kills them and undoes
the state directory and cgroup (ExitStack), so a bad config leaves nothing.
"""

from __future__ import annotations

import posix   # not os: hull.sys.pathname says why

from hull import errors
from hull.oci import bundle as bundlelib
from hull.oci.log import NULL, Log
from hull.oci.state import EXEC_FIFO, State, Store, now_rfc3339, process_start_time, write_atomic
from hull.oci.status import Status
from hull.oci.sync import Channel
from hull.sys import pathname


class Undo:
    """contextlib.ExitStack's callback/pop_all, without importing contextlib
    (it pulls in collections and functools: ~2.5 ms per container)."""

    def __init__(self) -> None:
        self._callbacks: list = []

    def callback(self, function, *args) -> None:
        self._callbacks.append((function, args))

    def pop_all(self) -> None:
        self._callbacks = []

    def __enter__(self) -> Undo:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        while self._callbacks:
            function, args = self._callbacks.pop()
            try:
                function(*args)
            except Exception:  # noqa: BLE001 - undo the rest; the first error is the story
                pass


class CreateOptions:
    def __init__(self, bundle: str = ".", pid_file: str = "", console_socket: str = "",
                 preserve_fds: int = 0, no_pivot: bool = False, no_new_keyring: bool = False,
                 systemd_cgroup: bool = False):
        self.bundle = pathname.abspath(bundle)
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.preserve_fds = preserve_fds
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.systemd_cgroup = systemd_cgroup


def create(store: Store, container_id: str, options: CreateOptions, log: Log = NULL) -> State:
    """Create the container; its init waits on exec.fifo. Returns the saved state."""
    what = f"cannot create container {container_id}"
    store.path(container_id)  # validates the id
    loaded = bundlelib.load(options.bundle, what)
    prepared = bundlelib.prepare(loaded, container_id, options, what)
    with Undo() as undo:
        state_dir = store.reserve(container_id)
        undo.callback(store.remove, container_id)
        _make_fifo(pathname.join(state_dir, EXEC_FIFO), loaded.config)
        manager = _make_cgroup(loaded, container_id, options, undo, what)
        state = State(container_id, state_dir, bundle=options.bundle, rootfs=loaded.rootfs,
                      created=now_rfc3339(), owner="", config=loaded.config,
                      annotations=loaded.config.get("annotations") or {},
                      cgroup=manager.save() if manager else None, no_pivot=options.no_pivot)
        pid = _spawn(prepared, state, manager, undo, log, what)
        state.pid = pid
        state.pid_start = process_start_time(pid)
        store.save(state)
        if options.pid_file:
            write_atomic(pathname.abspath(options.pid_file), str(pid), 0o644)
        undo.pop_all()
    return state


def _make_fifo(path: str, config: dict) -> None:
    """exec.fifo, writable by the init after it switched user, also as the
    container's root in a user namespace (owned by that root's host ids)."""
    posix.mkfifo(path, 0o622)
    posix.chmod(path, 0o622)   # mkfifo's mode went through the umask
    linux = config.get("linux") or {}
    uid, gid = host_id(linux.get("uidMappings"), 0), host_id(linux.get("gidMappings"), 0)
    if (uid, gid) != (0, 0):
        posix.chown(path, uid, gid)


def host_id(mappings: list[dict] | None, container_id: int) -> int:
    """The host id that ``container_id`` maps to (itself without mappings)."""
    for mapping in mappings or []:
        offset = container_id - mapping["containerID"]
        if 0 <= offset < mapping["size"]:
            return mapping["hostID"] + offset
    return container_id


def _make_cgroup(loaded, container_id: str, options: CreateOptions, undo, what: str):
    from hull.cgroups import open_manager

    linux = loaded.config.get("linux") or {}
    try:
        manager = open_manager(linux.get("cgroupsPath") or "", container_id=container_id,
                               systemd=options.systemd_cgroup)
        manager.create()
        undo.callback(manager.destroy)
        manager.set(cgroup_resources(linux))
    except errors.HullError as e:
        raise type(e)(_prefixed(str(e), what)) from e
    except OSError as e:
        raise errors.from_oserror(e, f"{what}: cgroup") from e
    return manager


# what every container may use, whatever its rules say (runc's AllowedDevices)
ALLOWED_DEVICES = [
    {"allow": True, "type": "c", "access": "m"}, {"allow": True, "type": "b", "access": "m"},
    *({"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"}
      for major, minor in ((1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (5, 1), (136, None),
                           (5, 2), (10, 200))),
]


def cgroup_resources(linux: dict) -> dict:
    """linux.resources plus the devices the runtime itself puts in /dev."""
    resources = dict(linux.get("resources") or {})
    created = [{"allow": True, "type": d["type"] if d["type"] != "u" else "c",
                "major": d.get("major"), "minor": d.get("minor"), "access": "rwm"}
               for d in linux.get("devices") or [] if d["type"] != "p"]
    resources["devices"] = list(resources.get("devices") or []) + ALLOWED_DEVICES + created
    for rule in resources["devices"]:  # None is "any" (*), as the spec says for omitted
        if rule.get("minor", 0) is None:
            del rule["minor"]
    return resources


def _prefixed(message: str, what: str) -> str:
    return message if message.startswith("cannot ") else f"{what}: {message}"


def _spawn(prepared, state: State, manager, undo, log: Log, what: str) -> int:
    """Fork the child stage, feed it, and wait until the init says ready."""
    from hull.oci import init

    plan = prepared.init_plan(state)
    init.preload(plan)
    channel = plan.channel
    child = posix.fork()
    if child == 0:
        init.run_child_stage(plan)   # never returns
    channel.parent_side()
    posix.close(plan.state_dir_fd)
    for fd in (plan.process.console_fd, plan.process.listener_socket):
        if fd >= 0:
            posix.close(fd)
    undo.callback(channel.close)
    undo.callback(_reap, child)
    try:
        if manager is not None:
            manager.apply(child)
    except (errors.HullError, OSError) as e:
        raise errors.Internal(f"{what}: cannot join cgroup: {e}") from e
    channel.send("go")
    init_pid = _follow(prepared, state, channel, child, undo, log, what)
    return init_pid


def _follow(prepared, state: State, channel: Channel, child: int, undo, log: Log,
            what: str) -> int:
    init_pid = 0
    while True:
        message = channel.receive()
        if message is None:
            raise errors.Internal(f"{what}: container init exited without a word")
        kind = message["type"]
        if kind == "userns":
            prepared.write_id_maps(child)
            channel.send("mapped")
        elif kind == "init":
            init_pid = message["pid"]
            undo.callback(_kill, init_pid)
            _reap(child)
            state.pid = init_pid
        elif kind == "hooks":
            _run_create_hooks(prepared.config, state, what)
            channel.send("continue")
        elif kind == "warning":
            log.warning(f"container {state.id}: {message['message']}")
        elif kind == "error":
            category = getattr(errors, message.get("category", ""), errors.Internal)
            if not (isinstance(category, type) and issubclass(category, errors.HullError)):
                category = errors.Internal
            raise category(_prefixed(message["message"], what))
        elif kind == "ready":
            return init_pid


def _run_create_hooks(config: dict, state: State, what: str) -> None:
    from hull.oci import hooks as hooklib

    hooks = config.get("hooks") or {}
    hook_state = state.hook_state(Status.CREATING)
    for kind in ("prestart", "createRuntime"):
        if hooks.get(kind):
            try:
                hooklib.run_all(hooks[kind], kind, hook_state)
            except errors.HullError as e:
                raise type(e)(f"{what}: {e}") from e


def _reap(pid: int) -> None:
    try:
        posix.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _kill(pid: int) -> None:
    """Undo: the init is not our child (the child stage forked it); kill and wait."""
    try:
        pidfd = posix.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        posix.kill(pid, 9)
        import select

        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.poll(5000)
    except ProcessLookupError:
        pass
    finally:
        posix.close(pidfd)
