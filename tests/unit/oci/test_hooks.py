"""Hooks: state JSON on stdin, own args and env only, timeouts, failures."""

from __future__ import annotations

import json

import pytest

from hull import errors
from hull.oci import hooks


@pytest.fixture
def script(tmp_path):
    def write(body: str):
        path = tmp_path / "hook.sh"
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
        return str(path)
    return write


def test_state_on_stdin_args_and_env(script, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKED", "from-runtime")
    out = tmp_path / "out"
    path = script(f'cat > {out}.stdin; echo "$1 $2 [$HOOK_ENV] [$LEAKED]" > {out}\n')
    state = {"ociVersion": "1.2.0", "id": "c", "status": "creating", "pid": 1, "bundle": "/b"}
    hooks.run_all([{"path": path, "args": ["name-is-argv0", "a", "b"],
                    "env": ["HOOK_ENV=set"]}], "prestart", state)
    assert json.loads((tmp_path / "out.stdin").read_text()) == state
    assert out.read_text().split() == ["a", "b", "[set]", "[]"]


def test_failure_names_the_hook_and_its_output(script):
    path = script("echo something broke >&2; exit 3\n")
    with pytest.raises(errors.FailedPrecondition) as info:
        hooks.run_all([{"path": "/bin/true"}, {"path": path}], "createRuntime", {})
    message = str(info.value)
    assert "createRuntime[1]" in message and "exit status 3" in message
    assert "something broke" in message


def test_timeout_kills_the_hook(script):
    path = script("sleep 30\n")
    with pytest.raises(errors.DeadlineExceeded, match="timed out after 1s"):
        hooks.run_all([{"path": path, "timeout": 1}], "poststop", {})


def test_missing_hook_binary(tmp_path):
    with pytest.raises(errors.InvalidArgument, match="prestart\\[0\\]"):
        hooks.run_all([{"path": str(tmp_path / "nope")}], "prestart", {})


def test_hook_not_reading_stdin_is_fine(script):
    hooks.run_all([{"path": script("exit 0\n")}], "poststart", {"big": "x" * 1000})


def test_poststart_failures_warn_and_the_rest_still_run(script, tmp_path):
    out = tmp_path / "ran"
    ok = script(f"echo ran >> {out}\n")
    warnings = []
    hooks.run_all_warning([{"path": "/bin/false"}, {"path": ok}, {"path": "/bin/false"}],
                          "poststart", {}, warnings.append)
    assert out.read_text() == "ran\n"
    assert len(warnings) == 2 and "poststart[0]" in warnings[0] and "poststart[2]" in warnings[1]
