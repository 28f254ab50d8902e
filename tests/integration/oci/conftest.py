"""Fixtures for hull-runc on real namespaces: a busybox rootfs built once,
a bundle per test, and a runtime wrapper whose teardown force-deletes every
container the test left and checks the state root is empty."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hull.spec.runtime import default_config
from hull.testing.busybox import make_rootfs

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[3]
LAUNCHER = REPO / ".venv" / "bin" / "hull-runc"


def hull_runc_command() -> list[str]:
    if LAUNCHER.exists():
        return [str(LAUNCHER)]
    return [sys.executable, "-c", "import sys; from hull.cli.runc import main; "
            "sys.exit(main(sys.argv[1:]))"]


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory) -> Path:
    return make_rootfs(tmp_path_factory.mktemp("hull-oci-rootfs") / "rootfs")


@pytest.fixture(scope="session")
def open_rootfs():
    """A rootfs every uid can reach (for user namespaces: the container's root
    is an unprivileged host uid, and pytest's temp dirs are 0700)."""
    import tempfile

    top = tempfile.mkdtemp(prefix="hull-oci-open-", dir="/var/tmp")
    os.chmod(top, 0o755)
    yield make_rootfs(os.path.join(top, "rootfs"))
    shutil.rmtree(top, ignore_errors=True)


class Bundle:
    def __init__(self, path: Path, rootfs: Path):
        self.path = path
        self.config = default_config()
        self.config["root"] = {"path": str(rootfs), "readonly": True}
        self.config["process"]["terminal"] = False
        self.config["process"]["args"] = ["sleep", "100"]
        self.config["hostname"] = "hull-oci-test"

    def write(self) -> "Bundle":
        (self.path / "config.json").write_text(json.dumps(self.config))
        return self

    @property
    def process(self) -> dict:
        return self.config["process"]

    @property
    def linux(self) -> dict:
        return self.config["linux"]

    def args(self, *args: str) -> "Bundle":
        self.process["args"] = list(args)
        return self


@pytest.fixture
def bundle(tmp_path, rootfs) -> Bundle:
    path = tmp_path / "bundle"
    path.mkdir()
    return Bundle(path, rootfs)


class Runtime:
    """hull-runc with a private --root; ``run`` returns the CompletedProcess."""

    def __init__(self, root: Path, command: list[str] | None = None):
        self.root = root
        self.command = command or hull_runc_command()

    def __call__(self, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        """Run hull-runc; stdout and stderr land in temporary files, never pipes:
        a container's init inherits them and would hold a pipe open."""
        import tempfile

        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("timeout", 60)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            stdout = kwargs.pop("stdout", out)
            stderr = kwargs.pop("stderr", err)
            result = subprocess.run([*self.command, "--root", str(self.root), *args],
                                    stdout=out if stdout is subprocess.PIPE else stdout,
                                    stderr=err if stderr is subprocess.PIPE else stderr,
                                    **kwargs)
            out.seek(0)
            err.seek(0)
            result.stdout = out.read().decode(errors="replace")
            result.stderr = err.read().decode(errors="replace")
        if check and result.returncode != 0:
            raise AssertionError(f"hull-runc {' '.join(args)} failed ({result.returncode}): "
                                 f"{result.stderr}")
        return result

    def create(self, container_id: str, bundle: Bundle, *extra: str, **kwargs):
        bundle.write()
        # stdio to files, not pipes: the init inherits them and lives on
        return self("create", "--bundle", str(bundle.path), *extra, container_id, **kwargs)

    def state(self, container_id: str) -> dict:
        return json.loads(self("state", container_id).stdout)

    def status(self, container_id: str) -> str:
        return self.state(container_id)["status"]

    def ids(self) -> list[str]:
        return [line for line in self("list", "-q").stdout.splitlines() if line]

    def cleanup(self) -> None:
        if not self.root.exists():
            return
        for container_id in os.listdir(self.root):
            self("delete", "--force", container_id, check=False)
        leftover = os.listdir(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        assert leftover == [], f"state left behind: {leftover}"


@pytest.fixture
def runtime(tmp_path) -> Runtime:
    rt = Runtime(Path("/run/hull-runc-test") / tmp_path.name)
    yield rt
    rt.cleanup()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def cgroup_dirs(container_id: str) -> list[str]:
    found = []
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", hierarchy)
        for dirpath, dirnames, _ in os.walk(top):
            found.extend(os.path.join(dirpath, d) for d in dirnames if d == container_id)
    return found


def run_output(runtime: Runtime, bundle: Bundle, container_id: str, *args: str) -> tuple[int, str]:
    """``run`` the bundle in the foreground with ``args``; (exit code, its stdout)."""
    import tempfile

    if args:
        bundle.args(*args)
    bundle.write()
    with tempfile.TemporaryFile() as out:
        result = runtime("run", "--bundle", str(bundle.path), container_id, check=False,
                         stdout=out)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if result.returncode != 0 and result.stderr:
        text += result.stderr
    return result.returncode, text


def receive_one_fd(path: str):
    """Listen on unix socket ``path`` in a thread; the first connection's message
    and fds land in the returned dict (keys "message", "fds"). Join the thread."""
    import socket
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    received: dict = {}

    def accept():
        try:
            conn, _ = server.accept()
            with conn:
                received["message"], received["fds"], _, _ = socket.recv_fds(conn, 65536, 4)
        finally:
            server.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return thread, received
