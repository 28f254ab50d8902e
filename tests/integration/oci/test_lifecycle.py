"""Each lifecycle verb on a real container, and the status at every point."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.oci.conftest import cgroup_dirs, wait_for

pytestmark = pytest.mark.root


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_create_start_kill_delete(runtime, bundle):
    runtime.create("hull-oci-life", bundle)
    state = runtime.state("hull-oci-life")
    assert state["status"] == "created"
    assert state["id"] == "hull-oci-life" and state["bundle"] == str(bundle.path)
    pid = state["pid"]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"sleep" not in f.read()   # still our init, blocked on the fifo
    runtime("start", "hull-oci-life")
    assert runtime.status("hull-oci-life") == "running"
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"
    runtime("kill", "hull-oci-life", "KILL")
    wait_for(lambda: runtime.status("hull-oci-life") == "stopped")
    assert runtime.state("hull-oci-life")["pid"] == 0
    runtime("delete", "hull-oci-life")
    assert runtime("state", "hull-oci-life", check=False).returncode != 0
    assert not cgroup_dirs("hull-oci-life")


def test_stopped_after_process_exits_on_its_own(runtime, bundle):
    runtime.create("hull-oci-exit", bundle.args("true"))
    runtime("start", "hull-oci-exit")
    wait_for(lambda: runtime.status("hull-oci-exit") == "stopped")
    runtime("delete", "hull-oci-exit")


def test_run_foreground_returns_exit_code_and_deletes(runtime, bundle, tmp_path):
    out = tmp_path / "out"
    bundle.args("sh", "-c", "hostname; echo $0 args; exit 7").write()
    with open(out, "w") as f:
        result = runtime("run", "--bundle", str(bundle.path), "hull-oci-run", check=False,
                         stdout=f, stderr=subprocess.PIPE)
    assert result.returncode == 7, result.stderr
    assert out.read_text().splitlines() == ["hull-oci-test", "sh args"]
    assert runtime.ids() == []


def test_run_detached_then_delete_force(runtime, bundle):
    bundle.write()
    runtime("run", "--detach", "--bundle", str(bundle.path), "hull-oci-det",
            stdout=subprocess.DEVNULL)
    assert runtime.status("hull-oci-det") == "running"
    result = runtime("delete", "hull-oci-det", check=False)
    assert result.returncode != 0
    assert "running" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    pid = runtime.state("hull-oci-det")["pid"]
    runtime("delete", "--force", "hull-oci-det")
    assert not os.path.exists(f"/proc/{pid}") or process_state(pid) == "Z"
    assert runtime.ids() == []
    assert not cgroup_dirs("hull-oci-det")


def test_delete_created_container_kills_its_init(runtime, bundle):
    runtime.create("hull-oci-dc", bundle)
    pid = runtime.state("hull-oci-dc")["pid"]
    runtime("delete", "hull-oci-dc")
    assert not os.path.exists(f"/proc/{pid}") or process_state(pid) == "Z"


def test_pid_file_written(runtime, bundle, tmp_path):
    pid_file = tmp_path / "pid"
    runtime.create("hull-oci-pid", bundle, "--pid-file", str(pid_file))
    assert int(pid_file.read_text()) == runtime.state("hull-oci-pid")["pid"]


def test_wrong_state_verbs_fail_with_one_line(runtime, bundle):
    runtime.create("hull-oci-ws", bundle)
    for verb in (["resume", "hull-oci-ws"],):
        result = runtime(*verb, check=False)
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    runtime("start", "hull-oci-ws")
    again = runtime("start", "hull-oci-ws", check=False)
    assert again.returncode != 0 and "running" in again.stderr
    runtime("kill", "hull-oci-ws", "9")
    wait_for(lambda: runtime.status("hull-oci-ws") == "stopped")
    for verb in (["start", "hull-oci-ws"], ["pause", "hull-oci-ws"], ["kill", "hull-oci-ws"],
                 ["exec", "hull-oci-ws", "true"]):
        result = runtime(*verb, check=False)
        assert result.returncode != 0, verb
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_duplicate_id_rejected_and_original_untouched(runtime, bundle):
    runtime.create("hull-oci-dup", bundle)
    pid = runtime.state("hull-oci-dup")["pid"]
    result = runtime.create("hull-oci-dup", bundle, check=False)
    assert result.returncode != 0 and "already exists" in result.stderr
    assert runtime.state("hull-oci-dup")["pid"] == pid
    assert runtime.status("hull-oci-dup") == "created"


def test_missing_container_errors(runtime):
    for verb in ("start", "state", "kill", "delete", "pause", "resume"):
        result = runtime(verb, "hull-oci-none", check=False)
        assert result.returncode != 0 and "does not exist" in result.stderr, verb
    assert runtime("delete", "--force", "hull-oci-none", check=False).returncode == 0


def test_pause_and_resume_freeze_the_processes(runtime, bundle):
    bundle.write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-pause",
            stdout=subprocess.DEVNULL)
    runtime("pause", "hull-oci-pause")
    assert runtime.status("hull-oci-pause") == "paused"
    state_file = runtime.root / "hull-oci-pause" / "state.json"
    import json

    saved = json.loads(state_file.read_text())
    freezer = saved["cgroup"]["paths"]["freezer"]
    assert open(os.path.join(freezer, "freezer.state")).read().strip() == "FROZEN"
    runtime("resume", "hull-oci-pause")
    assert runtime.status("hull-oci-pause") == "running"
    assert open(os.path.join(freezer, "freezer.state")).read().strip() == "THAWED"
    runtime("pause", "hull-oci-pause")
    runtime("delete", "--force", "hull-oci-pause")   # a paused container can be forced
    assert not cgroup_dirs("hull-oci-pause")


def test_kill_all_reaches_every_process(runtime, bundle):
    bundle.linux["namespaces"] = [n for n in bundle.linux["namespaces"] if n["type"] != "pid"]
    bundle.args("sh", "-c", "sleep 101 & sleep 102 & wait").write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-all",
            stdout=subprocess.DEVNULL)
    pids = wait_for(lambda: (p := [int(x) for x in runtime("ps", "--format", "json",
                                                              "hull-oci-all").stdout
                                   .strip("[]\n").split(",") if x]) and len(p) == 3 and p)
    runtime("kill", "--all", "hull-oci-all", "KILL")
    wait_for(lambda: all(not os.path.exists(f"/proc/{p}") or process_state(p) == "Z"
                         for p in pids))


def test_signal_names_and_numbers(runtime, bundle):
    bundle.args("sh", "-c", "trap 'exit 0' USR1; while true; do sleep 0.05; done").write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-sig",
            stdout=subprocess.DEVNULL)
    assert runtime("kill", "hull-oci-sig", "NOPE", check=False).returncode != 0
    runtime("kill", "hull-oci-sig", "SIGUSR1")
    wait_for(lambda: runtime.status("hull-oci-sig") == "stopped")


def test_list_and_ps(runtime, bundle):
    bundle.write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-ls",
            stdout=subprocess.DEVNULL)
    table = runtime("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[:3] == ["hull-oci-ls", str(runtime.state("hull-oci-ls")["pid"]),
                                    "running"]
    ps = runtime("ps", "hull-oci-ls").stdout
    assert "sleep 100" in ps
    assert runtime("ps", "-f", "json", "hull-oci-ls").stdout.strip() == \
        f"[{runtime.state('hull-oci-ls')['pid']}]"


def test_term_stops_a_created_container(runtime, bundle):
    runtime.create("hull-oci-term", bundle)
    runtime("kill", "hull-oci-term", "TERM")
    wait_for(lambda: runtime.status("hull-oci-term") == "stopped")
    runtime("delete", "hull-oci-term")


def test_concurrent_force_deletes_both_succeed(runtime, bundle):
    bundle.write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-race",
            stdout=subprocess.DEVNULL)
    procs = [subprocess.Popen([*runtime.command, "--root", str(runtime.root), "delete", "-f",
                               "hull-oci-race"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(3)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert runtime.ids() == [] and not cgroup_dirs("hull-oci-race")


def test_update_of_a_stopped_container_fails(runtime, bundle):
    runtime.create("hull-oci-upd", bundle.args("true"))
    runtime("start", "hull-oci-upd")
    wait_for(lambda: runtime.status("hull-oci-upd") == "stopped")
    result = runtime("update", "--pids-limit", "10", "hull-oci-upd", check=False)
    assert result.returncode != 0 and "stopped" in result.stderr
