"""Judging a validation program by its TAP output."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

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
