"""hull-runc next to runc: conmon drives it like runc, and ``state``,
``list`` and ``features`` print the same shapes (keys and value types)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.oci.conftest import Runtime, wait_for

pytestmark = pytest.mark.root


def shape(value):
    """Keys and types, recursively: what a client parsing the JSON relies on."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture
def runc(tmp_path):
    if not shutil.which("runc"):
        pytest.fail("runc is not installed (scripts/setup installs it)")
    rt = Runtime(Path("/run/hull-runc-test") / f"runc-{tmp_path.name}", ["runc"])
    yield rt
    rt.cleanup()


def test_state_and_list_shapes_match_runc(runtime, runc, bundle):
    bundle.config["ociVersion"] = "1.0.2"   # runc 1.1 refuses newer versions
    bundle.config["annotations"] = {"org.hull.test": "shape"}
    for rt in (runtime, runc):
        rt.create("hull-oci-shape", bundle)
    ours, theirs = runtime.state("hull-oci-shape"), runc.state("hull-oci-shape")
    assert shape(ours) == shape(theirs)
    assert ours["status"] == theirs["status"] == "created"
    ours_list = json.loads(runtime("list", "--format", "json").stdout)
    theirs_list = json.loads(runc("list", "--format", "json").stdout)
    assert shape(ours_list) == shape(theirs_list)
    assert runtime("list").stdout.splitlines()[0].split() == \
        runc("list").stdout.splitlines()[0].split()
    for rt in (runtime, runc):
        rt("start", "hull-oci-shape")
        rt("kill", "hull-oci-shape", "KILL")
    wait_for(lambda: runtime.status("hull-oci-shape") == runc.status("hull-oci-shape")
             == "stopped")
    assert shape(runtime.state("hull-oci-shape")) == shape(runc.state("hull-oci-shape"))
    assert runtime.state("hull-oci-shape")["pid"] == runc.state("hull-oci-shape")["pid"] == 0
    for rt in (runtime, runc):
        rt("delete", "hull-oci-shape")
    assert runtime("list", "--format", "json").stdout.strip() == \
        runc("list", "--format", "json").stdout.strip() == "null"


def test_features_shape_covers_runc(runtime, runc):
    ours = json.loads(runtime("features").stdout)
    theirs = json.loads(runc("features").stdout)
    assert set(theirs) <= set(ours)
    assert set(theirs["linux"]) <= set(ours["linux"])
    for key in theirs:
        assert type(ours[key]) is type(theirs[key]), key
    for key in theirs["linux"]:
        assert type(ours["linux"][key]) is type(theirs["linux"][key]), key
    assert set(theirs["hooks"]) == set(ours["hooks"])
    assert set(theirs["linux"]["namespaces"]) <= set(ours["linux"]["namespaces"])
    assert set(theirs["linux"]["capabilities"]) <= set(ours["linux"]["capabilities"])
    assert set(theirs["linux"]["seccomp"]["actions"]) <= set(ours["linux"]["seccomp"]["actions"])


def test_spec_matches_runc_apart_from_version_and_hostname(runtime, runc, tmp_path):
    for name, rt in (("ours", runtime), ("theirs", runc)):
        (tmp_path / name).mkdir()
        rt("spec", "--bundle", str(tmp_path / name))
    ours = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((tmp_path / "theirs" / "config.json").read_text())
    for config in (ours, theirs):
        config.pop("ociVersion")
        config.pop("hostname")
    assert ours == theirs
    again = runtime("spec", "--bundle", str(tmp_path / "ours"), check=False)
    assert again.returncode != 0 and "exists" in again.stderr


# --- conmon -------------------------------------------------------------------------

def _conmon(tmp_path: Path, runtime, container_id: str, log: Path, exit_dir: Path,
            *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["conmon", "--api-version", "1", "-c", container_id, "-u", f"{container_id}-{log.stem}",
         "-n", container_id, "-r", runtime.command[0], "-b", str(tmp_path / "bundle"),
         "-p", str(tmp_path / f"{log.stem}.pid"), "-l", f"k8s-file:{log}",
         "--exit-dir", str(exit_dir), "--socket-dir-path", str(tmp_path / "sockets"),
         "--runtime-arg", f"--root={runtime.root}", "--runtime-arg", "--log-format=json",
         "--runtime-arg", f"--log={tmp_path / 'runtime.log'}", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=60)


def _log_lines(path: Path) -> list[str]:
    # CRI log format: "<RFC3339Nano> <stream> <P|F> <content>"
    if not path.exists():
        return []
    return [line.split(" ", 3)[3] for line in path.read_text().splitlines()
            if line.count(" ") >= 3]


def test_conmon_drives_hull_runc(runtime, bundle, tmp_path):
    if not shutil.which("conmon"):
        pytest.fail("conmon is not installed (scripts/setup installs it)")
    (tmp_path / "sockets").mkdir()
    exits, exec_exits = tmp_path / "exits", tmp_path / "exec-exits"
    exits.mkdir()
    exec_exits.mkdir()
    bundle.args("sh", "-c", "echo hello-from-conmon; echo to-stderr >&2; sleep 100").write()
    log = tmp_path / "ctr.log"
    created = _conmon(tmp_path, runtime, "hull-oci-conmon", log, exits)
    assert created.returncode == 0, created.stderr
    wait_for(lambda: (tmp_path / "ctr.pid").exists())
    assert runtime.status("hull-oci-conmon") == "created"
    runtime("start", "hull-oci-conmon")
    wait_for(lambda: {"hello-from-conmon", "to-stderr"} <= set(_log_lines(log)))
    assert any(" stderr F to-stderr" in line for line in log.read_text().splitlines())

    process = {"args": ["sh", "-c", "echo exec-via-conmon; exit 3"], "cwd": "/",
               "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}}
    spec = tmp_path / "process.json"
    spec.write_text(json.dumps(process))
    exec_log = tmp_path / "exec.log"
    execed = _conmon(tmp_path, runtime, "hull-oci-conmon", exec_log, exec_exits, "-e",
                     "--exec-process-spec", str(spec))
    assert execed.returncode == 0, execed.stderr
    wait_for(lambda: (exec_exits / "hull-oci-conmon").exists()
             and (exec_exits / "hull-oci-conmon").read_text())
    assert (exec_exits / "hull-oci-conmon").read_text().strip() == "3"
    assert "exec-via-conmon" in _log_lines(exec_log)

    runtime("kill", "hull-oci-conmon", "KILL")
    wait_for(lambda: (exits / "hull-oci-conmon").exists()
             and (exits / "hull-oci-conmon").read_text())
    assert (exits / "hull-oci-conmon").read_text().strip() == "137"
    assert runtime.status("hull-oci-conmon") == "stopped"
    runtime("delete", "hull-oci-conmon")
    _wait_conmon_gone(tmp_path)


def _wait_conmon_gone(tmp_path: Path) -> None:
    """conmon exits once the container has; wait so no process outlives the test."""
    deadline = time.monotonic() + 10
    needle = str(tmp_path).encode()
    while time.monotonic() < deadline:
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
                with open(f"/proc/{pid}/stat") as f:
                    zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                continue
            if cmd.startswith(b"conmon") and needle in cmd and not zombie:
                alive.append(pid)
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"conmon still running: {alive}")


def test_conmon_reports_runtime_errors(runtime, bundle, tmp_path):
    """CRI-O reads create's outcome from conmon's sync pipe: pid -1 and our message."""
    (tmp_path / "sockets").mkdir()
    (tmp_path / "exits").mkdir()
    bundle.args("/bin/no-such-program").write()
    read_end, write_end = os.pipe()
    try:
        subprocess.run(
            ["conmon", "--api-version", "1", "-c", "hull-oci-conmon-bad", "-u", "bad",
             "-n", "bad", "-r", runtime.command[0], "-b", str(bundle.path),
             "-p", str(tmp_path / "bad.pid"), "-l", f"k8s-file:{tmp_path / 'bad.log'}",
             "--exit-dir", str(tmp_path / "exits"),
             "--socket-dir-path", str(tmp_path / "sockets"),
             "--runtime-arg", f"--root={runtime.root}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(write_end,), env={**os.environ, "_OCI_SYNCPIPE": str(write_end)},
            timeout=60)
        os.close(write_end)
        write_end = -1
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    report = json.loads(data.decode().strip().splitlines()[0])
    assert report["data"] == -1
    assert "no-such-program" in report["message"]
    assert runtime.ids() == []
