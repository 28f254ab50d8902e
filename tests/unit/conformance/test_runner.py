"""The conformance runner's judging of upstream TAP output (no root)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "conformance" / "runtime-tools"))

from rt_harness import tap  # noqa: E402


def _judge(stdout: str, exit_code: int = 0):
    result = tap.ProgramResult("p", "rt", "", exit_code, 0.0, stdout=stdout)
    tap.judge(result, tap.parse_tap(stdout))
    return result


def test_parse_tap_reads_status_number_description_and_directives():
    cases = tap.parse_tap("TAP version 13\nok 1 - a\nnot ok 2 - b # TODO later\n"
                             "ok 3 # SKIP no hugetlb\n  ok 9 - nested yaml text\n1..3\n")
    assert [(c.ok, c.number, c.description, c.directive) for c in cases] == [
        (True, 1, "a", ""), (False, 2, "b", "TODO"), (True, 3, "", "SKIP")]


def test_not_ok_fails_and_is_reported_verbatim():
    result = _judge("TAP version 13\nok 1 - x\nnot ok 2 - has expected hostname\n1..2\n")
    assert result.status == "fail"
    assert result.failures == ["not ok 2 - has expected hostname"]
    assert (result.passed, result.failed) == (1, 1)


def test_todo_failures_do_not_count():
    result = _judge("TAP version 13\nok 1 - x\nnot ok 2 - bind mounts # TODO\n1..2\n")
    assert result.status == "pass"
    assert result.todo == 1


def test_non_zero_exit_fails_even_with_all_ok():
    assert _judge("TAP version 13\nok 1 - x\n1..1\n", exit_code=1).status == "fail"


def test_only_skips_is_skip():
    assert _judge("TAP version 13\n1..1\nok 1 # SKIP linux only\n").status == "skip"


def test_diagnostic_only_program_fails_on_an_error_block():
    stdout = ('TAP version 13\n  ---\n  {\n    "error": "Hooks MUST be called in the listed order"\n'
              '  }\n  ...\n1..0\n')
    result = _judge(stdout)
    assert result.status == "fail"
    assert result.failures == ["diagnostic error: Hooks MUST be called in the listed order"]


def test_diagnostic_only_program_passes_without_error_block():
    assert _judge("TAP version 13\n1..0\n").status == "pass"


def test_yaml_without_error_key_is_not_a_failure():
    stdout = 'TAP version 13\n  ---\n  {\n    "reference": "x"\n  }\n  ...\n1..0\n'
    assert tap.yaml_errors(stdout) == []
