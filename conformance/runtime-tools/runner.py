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
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rt_harness.execute import (acquire_lock, default_build, programs_in,  # noqa: E402
                                reference_is_steady, run_program)
from rt_harness.report import markdown_gap, print_gap, print_table, print_tap  # noqa: E402


def confirm_gap(build: Path, runtimes: list[str], results: dict, args) -> list[str]:
    """Programs of the gap whose reference pass does not repeat."""
    reference, others = runtimes[0], runtimes[1:]
    racy = []
    for program, ref in sorted(results[reference].items()):
        in_gap = ref.status == "pass" and any(
            results[o][program].status != "pass" for o in others)
        if in_gap and args.confirm and not reference_is_steady(
                build, program, reference, args.timeout, args.confirm):
            racy.append(program)
    return racy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conformance/runtime-tools/run", description=__doc__.split("\n")[0])
    parser.add_argument("runtimes", nargs="+",
                        help="runtime executables; the first is the reference for the gap list")
    parser.add_argument("--build", type=Path, help="build directory (default: run ./build)")
    parser.add_argument("--only", help="comma-separated program names")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per program (default 180)")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each program's full TAP")
    parser.add_argument("--confirm", type=int, default=2, metavar="N",
                        help="rerun the reference N times on each gap program; if it fails "
                             "any rerun the program is racy, not a gap (default 2, 0 = off)")
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
    racy = confirm_gap(build, runtimes, results, args)
    print_tap(ordered)
    print_table(runtimes, results, programs)
    for program in racy:
        results[runtimes[0]][program].status = "racy"
    gaps = print_gap(runtimes[0], runtimes[1:], results) if len(runtimes) > 1 else 0
    if racy:
        print(f"racy under {os.path.basename(runtimes[0])} (passed once, failed a rerun; "
              f"not counted): {', '.join(racy)}")
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
