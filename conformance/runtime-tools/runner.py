"""Run the OCI runtime-tools validation programs against runtimes.

Each program runs in its own scratch directory (holding runtimetest and
the rootfs tarball, as upstream expects in the working directory) with
TMPDIR pointing inside it, so every bundle it makes is ours to remove.
The runtime is reached through a tiny wrapper that adds ``--root`` with a
private state directory: containers a program leaves behind are then
exactly the entries of that directory, deleted with ``RUNTIME delete
--force`` afterwards. Cgroup directories a program made in the v1
hierarchies (its fixed ``cgrouptest`` paths, or per-container ids) are
removed with rmdir when empty.

Stdlib only: it is the harness, not part of hull.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
STATE_BASE = Path("/run/hull-conformance")
SCRATCH_BASE = Path("/tmp")
TAP_LINE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$")


@dataclass
class TapCase:
    ok: bool
    number: int
    description: str
    directive: str  # "", "SKIP" or "TODO"
    line: str


@dataclass
class ProgramResult:
    program: str
    runtime: str
    status: str  # pass, fail, skip, timeout, error
    exit_code: int | None
    seconds: float
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    todo: int = 0
    failures: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    leftovers: list[str] = field(default_factory=list)


def parse_tap(text: str) -> list[TapCase]:
    cases = []
    for line in text.splitlines():
        match = TAP_LINE.match(line)
        if not match:
            continue
        status, number, rest = match.groups()
        directive = ""
        description = rest
        if "#" in rest:
            description, _, comment = rest.partition("#")
            word = comment.strip().split(" ", 1)[0].upper()
            if word in ("SKIP", "TODO"):
                directive = word
        cases.append(TapCase(status == "ok", int(number or 0), description.strip(),
                             directive, line))
    return cases


def judge(result: ProgramResult, cases: list[TapCase]) -> None:
    """Fill the counts and the overall status of one program run."""
    for case in cases:
        if case.directive == "SKIP":
            result.skipped += 1
        elif case.directive == "TODO":
            result.todo += 1
        elif case.ok:
            result.passed += 1
        else:
            result.failed += 1
            result.failures.append(case.line)
    if result.status in ("timeout", "error"):
        return
    if not cases:
        # Some upstream programs (hooks, poststart, poststop, ...) assert
        # nothing in TAP and report a violation only as a YAML diagnostic
        # with an "error" key; no such block and exit 0 means it held.
        errors = yaml_errors(result.stdout)
        result.failures += [f"diagnostic error: {e}" for e in errors]
        result.failed += len(errors)
    if result.exit_code != 0 or result.failed:
        result.status = "fail"
    elif result.passed == 0 and result.skipped:
        result.status = "skip"
    else:
        result.status = "pass"


def yaml_errors(text: str) -> list[str]:
    """The "error" values of the top-level YAML diagnostic blocks."""
    errors, block, inside = [], [], False
    for line in text.splitlines():
        if line == "  ---":
            inside, block = True, []
        elif line == "  ..." and inside:
            inside = False
            try:
                value = json.loads("\n".join(block))
            except ValueError:
                value = {"error": " ".join(block)} if "error" in " ".join(block) else {}
            if isinstance(value, dict) and value.get("error"):
                errors.append(str(value["error"]).replace("\n", " | "))
        elif inside:
            block.append(line)
    return errors


def write_wrapper(path: Path, runtime: str, state_root: Path) -> None:
    path.write_text(f'#!/bin/sh\nexec "{runtime}" --root "{state_root}" "$@"\n')
    path.chmod(0o755)


def cgroup_dirs() -> set[Path]:
    """Top-level directories of every v1 hierarchy (and their cgrouptest)."""
    found = set()
    for hierarchy in CGROUP_ROOT.iterdir():
        if hierarchy.is_symlink() or not hierarchy.is_dir():
            continue
        try:
            found.update(p for p in hierarchy.iterdir() if p.is_dir())
        except OSError:
            continue
    return found


def remove_new_cgroups(before: set[Path], ids: set[str]) -> list[str]:
    """rmdir cgroups that appeared during the program and are ours by name."""
    removed = []
    ours = re.compile(r"^(cgrouptest|testdir|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
    for path in sorted(cgroup_dirs() - before, key=lambda p: -len(p.parts)):
        if not (ours.match(path.name) or path.name in ids):
            continue
        for child in sorted(path.rglob("*"), key=lambda p: -len(p.parts)):
            if child.is_dir():
                try:
                    child.rmdir()
                except OSError:
                    pass
        for attempt in range(10):
            try:
                path.rmdir()
                removed.append(f"cgroup {path}")
                break
            except OSError as e:
                if attempt == 9:
                    removed.append(f"cgroup {path} NOT removed: {e.strerror}")
                time.sleep(0.3)
    return removed


def delete_leftover_containers(runtime: str, state_root: Path) -> list[str]:
    leftovers = []
    if not state_root.is_dir():
        return leftovers
    for entry in sorted(state_root.iterdir()):
        if not entry.is_dir():
            continue
        proc = subprocess.run([runtime, "--root", str(state_root), "delete", "--force", entry.name],
                              capture_output=True, text=True, timeout=60)
        note = "" if proc.returncode == 0 else f" (delete --force failed: {proc.stderr.strip()[:200]})"
        leftovers.append(f"container {entry.name}{note}")
    return leftovers


_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below path, deepest first (from mountinfo)."""
    prefix = str(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefix):
                found.append(point)
    return sorted(set(found), key=lambda p: -p.count("/"))


def unmount_under(path: Path) -> list[str]:
    """Detach mounts a program left on the host (a container sharing the
    host mount namespace leaves its proc, dev, sys mounts behind)."""
    notes = []
    for _ in range(3):
        points = mounts_under(path)
        if not points:
            break
        for point in points:
            if _libc.umount2(point.encode(), MNT_DETACH) == 0:
                notes.append(f"mount {point}")
    for point in mounts_under(path):
        notes.append(f"mount {point} NOT unmounted")
    return notes


def remove_tree(path: Path) -> None:
    """rmtree, but never while something is still mounted inside."""
    if mounts_under(path):
        return
    for _ in range(5):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.2)


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


def print_tap(results: list[ProgramResult]) -> None:
    print("TAP version 13")
    print(f"1..{len(results)}")
    for number, r in enumerate(results, 1):
        ok = "ok" if r.status in ("pass", "skip") else "not ok"
        directive = " # SKIP all cases skipped" if r.status == "skip" else ""
        print(f"{ok} {number} - {r.program} [{os.path.basename(r.runtime)}] {r.status}{directive}")
        for line in r.failures:
            print(f"  # {line}")
        if r.status in ("timeout", "error") or (r.status == "fail" and not r.failures):
            tail = (r.stderr.strip().splitlines() or ["(no stderr)"])[-3:]
            print(f"  # exit={r.exit_code} {r.status}: " + " | ".join(tail))


def print_table(runtimes: list[str], results: dict[str, dict[str, ProgramResult]],
                programs: list[str]) -> None:
    names = [os.path.basename(r) for r in runtimes]
    width = max(len(p) for p in programs) + 2
    print()
    print("program".ljust(width) + "".join(n.ljust(30) for n in names))
    for program in programs:
        row = program.ljust(width)
        for runtime in runtimes:
            r = results[runtime].get(program)
            cell = "-" if r is None else f"{r.status} {r.passed}/{r.failed}/{r.skipped} {r.seconds:.0f}s"
            row += cell.ljust(30)
        print(row)
    print("(cells: status passed/failed/skipped seconds)")
    for runtime in runtimes:
        counts: dict[str, int] = {}
        for r in results[runtime].values():
            counts[r.status] = counts.get(r.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"{os.path.basename(runtime)}: {summary}")


def print_gap(reference: str, others: list[str], results: dict[str, dict[str, ProgramResult]]) -> int:
    gaps = 0
    for other in others:
        print()
        print(f"passes under {os.path.basename(reference)} but not under {os.path.basename(other)}:")
        for program, ref in sorted(results[reference].items()):
            got = results[other].get(program)
            if ref.status == "pass" and got is not None and got.status != "pass":
                gaps += 1
                print(f"  {program}: {got.status}")
                for line in got.failures:
                    print(f"    {line}")
                if not got.failures:
                    tail = (got.stderr.strip().splitlines() or ["(no stderr)"])[-2:]
                    print("    " + " | ".join(tail))
        if not gaps:
            print("  (none)")
    return gaps


def markdown_gap(reference: str, others: list[str],
                 results: dict[str, dict[str, ProgramResult]]) -> str:
    """The gap as markdown: per program the failing TAP lines and stderr tail."""
    out = []
    for other in others:
        for program, ref in sorted(results[reference].items()):
            got = results[other].get(program)
            if ref.status != "pass" or got is None or got.status == "pass":
                continue
            out.append(f"### {program}: {got.status} under {os.path.basename(other)}"
                       f" (exit {got.exit_code}, {got.seconds:.1f}s)\n")
            out.append("```")
            out += got.failures or ["(no failing TAP line)"]
            tail = got.stderr.strip().splitlines()[-6:]
            if tail:
                out.append("--- stderr (tail)")
                out += tail
            if got.leftovers:
                out.append("--- cleaned after it: " + "; ".join(got.leftovers))
            out.append("```\n")
    return "\n".join(out) if out else "(no gap)\n"


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
    proc = subprocess.run([str(Path(__file__).with_name("build"))], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildUnavailable(proc.returncode, proc.stderr.strip())
    return Path(proc.stdout.strip().splitlines()[-1])


class BuildUnavailable(Exception):
    """./build failed; exit code 2 means a missing input (packages or sources)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conformance/runtime-tools/run", description=__doc__.split("\n")[0])
    parser.add_argument("runtimes", nargs="+",
                        help="runtime executables; the first is the reference for the gap list")
    parser.add_argument("--build", type=Path, help="build directory (default: run ./build)")
    parser.add_argument("--only", help="comma-separated program names")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per program (default 180)")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each program's full TAP")
    parser.add_argument("--markdown", type=Path, help="write the gap (failing lines, stderr) as markdown")
    args = parser.parse_args(argv)

    build = args.build or default_build()
    runtimes = [os.path.abspath(shutil.which(r) or r) for r in args.runtimes]
    for runtime in runtimes:
        if not os.access(runtime, os.X_OK):
            raise SystemExit(f"run: runtime not executable: {runtime}")
    programs = programs_in(build, args.only.split(",") if args.only else None)

    lock = acquire_lock()  # held until exit
    results: dict[str, dict[str, ProgramResult]] = {r: {} for r in runtimes}
    ordered: list[ProgramResult] = []
    for program in programs:
        for runtime in runtimes:
            r = run_program(build, program, runtime, args.timeout)
            results[runtime][program] = r
            ordered.append(r)
            print(f"# {program} [{os.path.basename(runtime)}]: {r.status} in {r.seconds:.1f}s"
                  + (f"; cleaned {len(r.leftovers)}: {'; '.join(r.leftovers)}" if r.leftovers else ""),
                  file=sys.stderr, flush=True)
            if args.verbose:
                sys.stderr.write(r.stdout + r.stderr)
    print_tap(ordered)
    print_table(runtimes, results, programs)
    gaps = print_gap(runtimes[0], runtimes[1:], results) if len(runtimes) > 1 else 0
    if args.markdown and len(runtimes) > 1:
        args.markdown.write_text(markdown_gap(runtimes[0], runtimes[1:], results))
    if args.json:
        args.json.write_text(json.dumps({"build": str(build), "runtimes": runtimes,
                                         "results": [asdict(r) for r in ordered]}, indent=1))
    failed = sum(r.status != "pass" and r.status != "skip" for r in ordered)
    passed = len(ordered) - failed
    print(f"\n{passed} passed, {failed} failed")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
