"""Real cgroups for integration tests; everything made here is removed, also on failure.

Cgroups are named /hull-test-<uuid>/... in every hierarchy; processes are
children of the test, killed and reaped by the fixtures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from hull import cgroups
from hull.cgroups import files

CGROUP_ROOT = "/sys/fs/cgroup"

# waits for "go" on stdin, then burns CPU and holds memory until killed.
# It burns CPU *time*, not wall time: on a loaded machine the cgroup's
# usage must still reach what the test asserts.
WORKER = r"""
import sys, time
sys.stdin.readline()
block = bytearray(int(sys.argv[1]))
for i in range(0, len(block), 4096):
    block[i] = 1
end = time.process_time() + float(sys.argv[2])
n = 0
while time.process_time() < end:
    n += 1
print("worked", flush=True)
sys.stdin.readline()
"""


def _remove_test_tops(name: str) -> None:
    for hierarchy in os.listdir(CGROUP_ROOT):
        files.rmdir_tree(os.path.join(CGROUP_ROOT, hierarchy, name))


@pytest.fixture
def cgroup_name():
    name = f"hull-test-{uuid.uuid4().hex[:12]}"
    yield name
    _remove_test_tops(name)


@pytest.fixture
def v1_manager(cgroup_name):
    mgr = cgroups.open_manager(f"/{cgroup_name}/ctr", container_id="ctr")
    assert mgr.version == 1, "this machine runs cgroup v1 (hybrid)"
    yield mgr
    if mgr.exists():
        mgr.thaw()
        mgr.kill_all(signal.SIGKILL)
    mgr.destroy()


def _thaw(pid: int) -> None:
    """A frozen process cannot die: thaw its test cgroup (v1 freezer or v2) first."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            entries = [line.strip().split(":", 2) for line in f]
    except FileNotFoundError:
        return
    for _, controllers, path in entries:
        if "hull-test-" not in path:
            continue
        if controllers == "freezer":
            files.write(f"{CGROUP_ROOT}/freezer{path}", "freezer.state", "THAWED")
        elif controllers == "" and os.path.exists(f"{CGROUP_ROOT}/unified{path}/cgroup.freeze"):
            files.write(f"{CGROUP_ROOT}/unified{path}", "cgroup.freeze", 0)


class Children:
    """Worker processes started by a test; killed and reaped at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def worker(self, memory_bytes: int = 0, seconds: float = 0.0) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-I", "-c", WORKER, str(memory_bytes),
                                 str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        self.procs.append(proc)
        return proc

    def python(self, code: str) -> subprocess.Popen:
        """A python process that waits for a line on stdin, then runs ``code``."""
        script = "import sys\nsys.stdin.readline()\n" + code
        proc = subprocess.Popen([sys.executable, "-I", "-c", script], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                _thaw(proc.pid)
                proc.kill()
            proc.wait(timeout=30)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream:
                    stream.close()


@pytest.fixture
def children():
    kit = Children()
    yield kit
    kit.cleanup()
