"""A runc-compatible runtime (hull-runc, runc, crun) driven through conmon.

conmon, as CRI-O uses it, is the per-container monitor: it runs
``<runtime> create``, keeps the container's stdio, writes the kubelet CRI
log format at the log path, and records the exit code in
``<state>/exits/<id>`` when the container ends, so containers outlive a
restart of hulld. Start, kill, delete, exec and update call the runtime
binary directly.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import select
import signal as signals
import subprocess
import tempfile
import time

from hull.cri.runtime import CreateRequest, ExecResult, Exit, Features
from hull.errors import FailedPrecondition, Internal, NotFound

log = logging.getLogger("hull.cri.runtime")

EXEC_OUTPUT_CAP = 16 << 20     # CVE-2022-1708: cap ExecSync output
SYNC_TIMEOUT = 60.0


class ConmonRuntime:
    def __init__(self, name: str, path: str, *, state_dir: str, conmon: str = "/usr/bin/conmon",
                 args: list[str] | None = None):
        self.name = name
        self.path = path
        self.conmon = conmon
        self.args = list(args or [])
        self.root = os.path.join(state_dir, "runtime", name)
        self.exit_dir = os.path.join(state_dir, "exits")
        self.socket_dir = os.path.join(state_dir, "sockets")
        for d in (self.root, self.exit_dir, self.socket_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self._features: Features | None = None

    # plumbing

    def _argv(self, *args: str) -> list[str]:
        return [self.path, *self.args, "--root", self.root, *args]

    def _run(self, what: str, *args: str, stdin: bytes | None = None,
             ok_missing: bool = False) -> str:
        proc = subprocess.run(self._argv(*args), input=stdin, capture_output=True, timeout=120)
        if proc.returncode == 0:
            return proc.stdout.decode(errors="replace")
        cause = (proc.stderr or proc.stdout).decode(errors="replace").strip()
        if ok_missing and _means_missing(cause):
            return ""
        if _means_missing(cause):
            raise NotFound(f"cannot {what}: {self.name}: {_last_line(cause)}")
        raise Internal(f"cannot {what}: {self.name} exited {proc.returncode}: {_last_line(cause)}")

    # lifecycle

    def create(self, request: CreateRequest) -> int:
        bundle = request.bundle
        argv = [self.conmon, "--api-version", "1", "-c", request.container_id,
                "-u", request.container_id, "-n", request.name, "-r", self.path,
                "-b", bundle, "-p", os.path.join(bundle, "pidfile"),
                "-P", os.path.join(bundle, "conmon.pid"), "--persist-dir", bundle,
                "--exit-dir", self.exit_dir, "--socket-dir-path", self.socket_dir,
                "--log-level", "error", "--runtime-arg", f"--root={self.root}"]
        for arg in self.args:
            argv += ["--runtime-arg", arg]
        if request.log_path:
            argv += ["-l", f"k8s-file:{request.log_path}"]
        else:
            argv += ["-l", "none"]
        if request.stdin:
            argv.append("-i")
            if not request.stdin_once:
                argv.append("--leave-stdin-open")
        if request.tty:
            argv.append("-t")
        return self._spawn_conmon(argv, f"create container {request.container_id}", bundle)

    def _spawn_conmon(self, argv: list[str], what: str, cwd: str) -> int:
        sync_read, sync_write = os.pipe()
        try:
            # pass_fds keeps the descriptor's number in the child: no preexec_fn needed
            env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                   "_OCI_SYNCPIPE": str(sync_write)}
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=env, pass_fds=(sync_write,),
                                    start_new_session=True, cwd=cwd)  # conmon writes "oom" in its cwd
            os.close(sync_write)
            sync_write = -1
            reply = _read_message(sync_read, SYNC_TIMEOUT)
            err = proc.communicate(timeout=SYNC_TIMEOUT)[1]
        finally:
            os.close(sync_read)
            if sync_write >= 0:
                os.close(sync_write)
        message = _parse_sync(reply)
        pid = message.get("data", -1)
        if not isinstance(pid, int) or pid <= 0:
            cause = message.get("message") or err.decode(errors="replace").strip() or "no pid"
            raise Internal(f"cannot {what}: {self.name}: {_last_line(cause)}")
        return pid

    def start(self, container_id: str) -> None:
        self._run(f"start container {container_id}", "start", container_id)

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        args = ["kill", *(["--all"] if all_processes else []), container_id, str(signal)]
        try:
            self._run(f"kill container {container_id}", *args, ok_missing=True)
        except Internal as e:
            if "not running" in str(e) or "process already finished" in str(e):
                return
            raise

    def delete(self, container_id: str) -> None:
        self._run(f"delete container {container_id}", "delete", "--force", container_id,
                  ok_missing=True)
        for path in (os.path.join(self.exit_dir, container_id),):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def exit_status(self, container_id: str, bundle: str = "") -> Exit | None:
        path = os.path.join(self.exit_dir, container_id)
        try:
            with open(path) as f:
                text = f.read().strip()
            finished = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return None
        if not text:
            return None  # conmon is still writing it
        oom = bool(bundle) and os.path.exists(os.path.join(bundle, "oom"))
        return Exit(exit_code=int(text), finished_at=finished, oom_killed=oom)

    def is_alive(self, container_id: str, pid: int = 0) -> bool:
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not _is_zombie(pid)

    def update(self, container_id: str, resources: dict) -> None:
        self._run(f"update container {container_id}", "update", "--resources", "-",
                  container_id, stdin=json.dumps(resources).encode())

    def reopen_log(self, container_id: str, bundle: str) -> None:
        ctl = os.path.join(bundle, "ctl")
        try:
            fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENXIO):
                raise FailedPrecondition(f"cannot reopen log of container {container_id}: "
                                         f"its monitor is not running") from e
            raise
        try:
            os.write(fd, b"2 0 0\n")   # conmon control message 2: reopen log files
        finally:
            os.close(fd)

    def exec_sync(self, container_id: str, process: dict, timeout: float | None) -> ExecResult:
        with tempfile.TemporaryDirectory(prefix="hull-exec-") as tmp:
            spec = os.path.join(tmp, "process.json")
            pidfile = os.path.join(tmp, "pid")
            with open(spec, "w") as f:
                json.dump(process, f)
            proc = subprocess.Popen(self._argv("exec", "--process", spec, "--pid-file", pidfile,
                                               container_id),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_pidfile(pidfile)
                out, err = proc.communicate()
                return ExecResult(exit_code=-1, stdout=out[:EXEC_OUTPUT_CAP],
                                  stderr=err[:EXEC_OUTPUT_CAP], timed_out=True)
            if proc.returncode != 0 and not os.path.exists(pidfile):
                cause = err.decode(errors="replace").strip()
                if _means_missing(cause) or "not running" in cause or "stopped" in cause:
                    raise FailedPrecondition(f"cannot exec in container {container_id}: "
                                             f"{_last_line(cause)}")
                raise Internal(f"cannot exec in container {container_id}: {_last_line(cause)}")
            return ExecResult(exit_code=proc.returncode, stdout=out[:EXEC_OUTPUT_CAP],
                              stderr=err[:EXEC_OUTPUT_CAP])

    def features(self) -> Features:
        if self._features is None:
            self._features = self._probe_features()
        return self._features

    def _probe_features(self) -> Features:
        try:
            proc = subprocess.run([self.path, "features"], capture_output=True, timeout=10)
            doc = json.loads(proc.stdout) if proc.returncode == 0 else {}
        except (OSError, ValueError, subprocess.TimeoutExpired):
            doc = {}
        options = doc.get("mountOptions") or []
        linux = doc.get("linux") or {}
        idmap = (linux.get("mountExtensions") or {}).get("idmap", {}).get("enabled", False)
        userns = "user" in (linux.get("namespaces") or [])
        # hull pins a user namespace per pod and joins it by path, so any runtime that
        # can join one serves; idmapped volume mounts additionally need ``idmap``
        return Features(recursive_read_only_mounts="rro" in options and _kernel_at_least(5, 12),
                        user_namespaces=userns, extra={**doc, "idmapMounts": bool(idmap)})


def _read_message(fd: int, timeout: float) -> bytes:
    """conmon's first sync message; the pipe stays open while the container runs."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"}" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


def _parse_sync(reply: bytes) -> dict:
    for line in reply.decode(errors="replace").splitlines():
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def _kill_pidfile(pidfile: str) -> None:
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), signals.SIGKILL)
    except (OSError, ValueError):
        pass


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _means_missing(cause: str) -> bool:
    lowered = cause.lower()
    return "does not exist" in lowered or "not found" in lowered or "no such" in lowered


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return "no output"
    last = lines[-1]
    try:  # runc logs json lines on stderr with --log-format json
        return json.loads(last).get("msg", last)
    except (ValueError, AttributeError):
        return last


def _kernel_at_least(major: int, minor: int) -> bool:
    release = os.uname().release.split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (major, minor)
    except (IndexError, ValueError):
        return False

