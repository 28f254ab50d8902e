"""Building the suite and running one validation program."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rt_harness.cleanup import (cgroup_dirs, delete_leftover_containers, remove_new_cgroups,
                                remove_tree, unmount_under)
from rt_harness.tap import ProgramResult, judge, parse_tap

STATE_BASE = Path("/run/hull-conformance")
SCRATCH_BASE = Path("/tmp")
BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "build"


def write_wrapper(path: Path, runtime: str, state_root: Path) -> None:
    path.write_text(f'#!/bin/sh\nexec "{runtime}" --root "{state_root}" "$@"\n')
    path.chmod(0o755)


def run_program(build: Path, program: str, runtime: str, timeout: float) -> ProgramResult:
    scratch = Path(tempfile.mkdtemp(prefix=f"hull-conf-{program}-", dir=SCRATCH_BASE))
    state_root = STATE_BASE / scratch.name
    state_root.mkdir(parents=True)
    tmp = scratch / "tmp"
    tmp.mkdir()
    # Upstream's bundles live in /tmp (1777); mkdtemp's 0700 would also
    # shut out containers whose root maps to another host uid.
    scratch.chmod(0o755)
    tmp.chmod(0o1777)
    shutil.copy2(build / "bin" / "runtimetest", scratch / "runtimetest")
    for tarball in build.glob("rootfs-*.tar.gz"):
        (scratch / tarball.name).symlink_to(tarball)
    wrapper = scratch / "runtime"
    write_wrapper(wrapper, runtime, state_root)
    env = dict(os.environ, RUNTIME=str(wrapper), TMPDIR=str(tmp))
    cgroups_before = cgroup_dirs()
    seen_ids: set[str] = set()

    started = time.monotonic()
    proc = subprocess.Popen([str(build / "bin" / program)], cwd=scratch, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    status = ""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own process group only
        stdout, stderr = proc.communicate()
        status = "timeout"
    seconds = time.monotonic() - started

    if state_root.is_dir():
        seen_ids = {p.name for p in state_root.iterdir()}
    result = ProgramResult(program, runtime, status, proc.returncode, round(seconds, 2),
                           stdout=stdout, stderr=stderr)
    judge(result, parse_tap(stdout))
    result.leftovers += delete_leftover_containers(runtime, state_root)
    result.leftovers += unmount_under(scratch)
    result.leftovers += remove_new_cgroups(cgroups_before, seen_ids)
    remove_tree(state_root)
    remove_tree(scratch)
    return result


def programs_in(build: Path, only: list[str] | None) -> list[str]:
    names = sorted(p.name for p in (build / "bin").iterdir() if p.name != "runtimetest")
    if only:
        unknown = set(only) - set(names)
        if unknown:
            raise SystemExit(f"run: no such validation program: {', '.join(sorted(unknown))}")
        names = [n for n in names if n in only]
    return names


def acquire_lock():
    """One run per machine: the programs use fixed cgroup paths (/cgrouptest)."""
    STATE_BASE.mkdir(parents=True, exist_ok=True)
    lock = open(STATE_BASE / "lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("# waiting for another conformance run to finish", file=sys.stderr, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def default_build() -> Path:
    """Run ./build (cached) and return the build directory it prints."""
    proc = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildUnavailable(proc.returncode, proc.stderr.strip())
    return Path(proc.stdout.strip().splitlines()[-1])


class BuildUnavailable(Exception):
    """./build failed; exit code 2 means a missing input (packages or sources)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def reference_is_steady(build: Path, program: str, runtime: str, timeout: float,
                        times: int = 2) -> bool:
    """Whether the reference passes ``program`` again, ``times`` times more.

    Some upstream programs race the container (pidfile kills a ``true``
    that may already have exited): a pass there is luck, not a bar.
    """
    return all(run_program(build, program, runtime, timeout).status == "pass"
               for _ in range(times))

