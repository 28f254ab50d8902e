"""Printing results: TAP, the table, the gap list, the gap as markdown."""

from __future__ import annotations

import os

from rt_harness.tap import ProgramResult


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
        seconds = sum(r.seconds for r in results[runtime].values())
        print(f"{os.path.basename(runtime)}: {summary}; {seconds:.0f} s in all")


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
