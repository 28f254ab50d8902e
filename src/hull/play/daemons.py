"""Finding, starting and talking to hulld, hull-csi and the play agent.

`hull play` reaches the daemons only over their sockets. When one is not
answering it is started (detached, logging under ``<root>/play/``) with a
line on stderr saying so; it keeps running after the command returns, as
a system service would.

Endpoints follow ``--root``: the default root uses the system paths
(``/run/hull/hull.sock``, ``/run/hull/csi.sock``, ``/etc/cni/net.d``);
any other root keeps everything under itself, so a test or a demo is
self-contained. ``HULL_SOCKET`` and ``HULL_CSI_SOCKET`` override the sockets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from hull import errors

# grpc and the stubs load only when a client is made: `hull get pods` needs neither

SYSTEM_ROOT = "/var/lib/hull"
START_TIMEOUT = 60.0


@dataclass
class Endpoints:
    root: str
    socket: str
    csi_socket: str
    state: str
    cni_conf_dir: str
    csi_root: str

    @classmethod
    def for_root(cls, root: str) -> "Endpoints":
        root = os.path.abspath(root)
        if root == SYSTEM_ROOT:
            ep = cls(root, "/run/hull/hull.sock", "/run/hull/csi.sock", "/run/hull",
                     "/etc/cni/net.d", os.path.join(root, "csi"))
        else:
            run = os.path.join(root, "run")
            ep = cls(root, os.path.join(run, "hull.sock"), os.path.join(run, "csi.sock"),
                     os.path.join(run, "state"), os.path.join(root, "cni", "net.d"),
                     os.path.join(root, "csi"))
        ep.socket = os.environ.get("HULL_SOCKET", ep.socket)
        ep.csi_socket = os.environ.get("HULL_CSI_SOCKET", ep.csi_socket)
        return ep

    @property
    def play_dir(self) -> str:
        return os.path.join(self.root, "play")

    def pid_file(self, name: str) -> str:
        return os.path.join(self.play_dir, f"{name}.pid")

    def log_file(self, name: str) -> str:
        return os.path.join(self.play_dir, f"{name}.log")


# reconnect quickly after a daemon restart (gRPC's default backs off up to 2 minutes)
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000)]


def _bin(name: str) -> str:
    here = os.path.dirname(sys.executable)
    path = os.path.join(here, name)
    return path if os.path.exists(path) else name


class Cri:
    """Stubs for hulld's RuntimeService and ImageService over one channel."""

    def __init__(self, socket: str):
        import grpc
        from hull._generated import api_pb2_grpc as api_grpc
        self.socket = socket
        self.channel = grpc.insecure_channel(f"unix://{socket}", options=CHANNEL_OPTIONS)
        self.runtime = api_grpc.RuntimeServiceStub(self.channel)
        self.images = api_grpc.ImageServiceStub(self.channel)

    def alive(self, timeout: float = 1.0) -> bool:
        import grpc
        from hull._generated import api_pb2 as api
        try:
            self.runtime.Version(api.VersionRequest(), timeout=timeout)
            return True
        except grpc.RpcError:
            return False

    def close(self) -> None:
        self.channel.close()


class Csi:
    def __init__(self, socket: str):
        import grpc
        from hull._generated import csi_pb2_grpc as csi_grpc
        self.socket = socket
        self.channel = grpc.insecure_channel(f"unix://{socket}", options=CHANNEL_OPTIONS)
        self.identity = csi_grpc.IdentityStub(self.channel)
        self.controller = csi_grpc.ControllerStub(self.channel)
        self.node = csi_grpc.NodeStub(self.channel)
        self._node_id = ""

    def alive(self, timeout: float = 1.0) -> bool:
        import grpc
        from hull._generated import csi_pb2 as csi
        try:
            self.identity.Probe(csi.ProbeRequest(), timeout=timeout)
            return True
        except grpc.RpcError:
            return False

    @property
    def node_id(self) -> str:
        if not self._node_id:
            from hull._generated import csi_pb2 as csi
            self._node_id = self.node.NodeGetInfo(csi.NodeGetInfoRequest(), timeout=30).node_id
        return self._node_id

    def close(self) -> None:
        self.channel.close()


def ensure_network_config(ep: Endpoints) -> None:
    """A pod network for hulld: hull's default conflist when the conf dir has none."""
    from hull.cni.defaults import default_conflist, ensure_default_config
    from hull.cni.config import config_files

    if ep.root == SYSTEM_ROOT:
        ensure_default_config(ep.cni_conf_dir)
        return
    if config_files(ep.cni_conf_dir):
        return
    conf = default_conflist(subnet=os.environ.get("HULL_POD_SUBNET", "10.88.0.0/16"),
                            bridge=os.environ.get("HULL_BRIDGE", "hull0"),
                            data_dir=os.path.join(ep.root, "cni", "ipam"))
    table = os.environ.get("HULL_PORTMAP_TABLE")
    if table:
        for plugin in conf["plugins"]:
            if plugin["type"] == "hull-portmap":
                plugin["nftTable"] = table
    os.makedirs(ep.cni_conf_dir, exist_ok=True)
    path = os.path.join(ep.cni_conf_dir, "10-hull.conflist")
    with open(f"{path}.tmp", "w") as f:
        json.dump(conf, f, indent=2)
    os.rename(f"{path}.tmp", path)


def _spawn(ep: Endpoints, name: str, argv: list[str]) -> subprocess.Popen:
    os.makedirs(ep.play_dir, exist_ok=True)
    with open(ep.log_file(name), "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    with open(ep.pid_file(name), "w") as f:
        f.write(f"{proc.pid}\n")
    return proc


def _wait(proc: subprocess.Popen, check, name: str, ep: Endpoints) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not check():
        if proc.poll() is not None:
            raise errors.Unavailable(f"cannot start {name}: it exited with {proc.returncode}; "
                                     f"see {ep.log_file(name)}:\n{_tail(ep.log_file(name))}")
        if time.monotonic() > deadline:
            raise errors.Unavailable(f"cannot start {name}: no answer after {START_TIMEOUT:.0f}s;"
                                     f" see {ep.log_file(name)}")
        time.sleep(0.05)


def _tail(path: str, lines: int = 8) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def say(message: str) -> None:
    print(f"hull: {message}", file=sys.stderr, flush=True)


class _StartLock:
    """One starter per root: two `hull play` at once must not both spawn a daemon."""

    def __init__(self, ep: Endpoints, name: str):
        self.path = os.path.join(ep.play_dir, f"{name}.lock")

    def __enter__(self):
        import fcntl
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)   # closing drops the lock
        return False


def ensure_hulld(ep: Endpoints, quiet: bool = False) -> Cri:
    cri = Cri(ep.socket)
    if cri.alive():
        return cri
    with _StartLock(ep, "hulld"):
        if cri.alive():
            return cri
        return _start_hulld(ep, cri, quiet)


def _start_hulld(ep: Endpoints, cri: Cri, quiet: bool) -> Cri:
    ensure_network_config(ep)
    argv = [_bin("hulld"), "--socket", ep.socket, "--root", ep.root, "--state", ep.state,
            "--cni-conf-dir", ep.cni_conf_dir]
    if ep.root != SYSTEM_ROOT:
        argv += ["--cgroup-parent", os.environ.get("HULL_CGROUP_PARENT", "/hull")]
    if not quiet:
        say(f"hulld is not running: starting it (socket {ep.socket}, log "
            f"{ep.log_file('hulld')})")
    os.makedirs(os.path.dirname(ep.socket), exist_ok=True)
    proc = _spawn(ep, "hulld", argv)
    _wait(proc, cri.alive, "hulld", ep)
    return cri


def ensure_csi(ep: Endpoints, quiet: bool = False) -> Csi:
    client = Csi(ep.csi_socket)
    if client.alive():
        return client
    with _StartLock(ep, "hull-csi"):
        if client.alive():
            return client
        return _start_csi(ep, client, quiet)


def _start_csi(ep: Endpoints, client: Csi, quiet: bool) -> Csi:
    argv = [_bin("hull-csi"), "--endpoint", f"unix://{ep.csi_socket}",
            "--node-id", os.uname().nodename, "--root", ep.csi_root]
    if not quiet:
        say(f"hull-csi is not running: starting it (socket {ep.csi_socket}, log "
            f"{ep.log_file('hull-csi')})")
    os.makedirs(os.path.dirname(ep.csi_socket), exist_ok=True)
    proc = _spawn(ep, "hull-csi", argv)
    _wait(proc, client.alive, "hull-csi", ep)
    return client


def agent_pid(ep: Endpoints) -> int | None:
    """The running agent's pid for this root, from its pid file (checked against /proc)."""
    try:
        with open(ep.pid_file("agent")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except (OSError, ValueError):
        return None
    if b"hull.play.agent" in cmdline and ep.root.encode() in cmdline:
        return pid
    return None


def ensure_agent(ep: Endpoints, quiet: bool = False) -> int:
    pid = agent_pid(ep)
    if pid:
        return pid
    with _StartLock(ep, "agent"):
        return agent_pid(ep) or _start_agent(ep, quiet)


def _start_agent(ep: Endpoints, quiet: bool) -> int:
    if not quiet:
        say(f"starting the play agent (restarts and probes; log {ep.log_file('agent')})")
    argv = [sys.executable, "-m", "hull.play.agent", "--root", ep.root]
    proc = _spawn(ep, "agent", argv)
    ready = os.path.join(ep.play_dir, "agent.ready")
    _wait(proc, lambda: _ready_mark(ready, proc.pid), "agent", ep)
    return proc.pid


def _ready_mark(path: str, pid: int) -> bool:
    try:
        with open(path) as f:
            return f.read().strip() == str(pid)
    except OSError:
        return False


def stop_daemon(ep: Endpoints, name: str, timeout: float = 20.0) -> bool:
    """SIGTERM the daemon whose pid this root recorded (never anything else); True if stopped."""
    import signal
    try:
        with open(ep.pid_file(name)) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if ep.root.encode() not in f.read():
                return False
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}") or _zombie(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    try:
        os.unlink(ep.pid_file(name))
    except FileNotFoundError:
        pass
    return True


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def stop_all(ep: Endpoints) -> None:
    """Stop the agent, hull-csi and hulld this root started (by their pid files)."""
    for name in ("agent", "hull-csi", "hulld"):
        stop_daemon(ep, name)


def remove_cgroup(parent: str) -> None:
    """Remove an (empty) cgroup parent directory from every v1 hierarchy, deepest first."""
    top = "/sys/fs/cgroup"
    for hierarchy in os.listdir(top):
        base = os.path.join(top, hierarchy, parent.strip("/"))
        if os.path.islink(os.path.join(top, hierarchy)) or not os.path.isdir(base):
            continue
        for dirpath, _, _ in sorted(os.walk(base), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
