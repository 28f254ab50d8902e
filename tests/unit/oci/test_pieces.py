"""Small pure pieces of hull.oci: signals, update flags, list table, exec
process rules, executable lookup, id maps, cgroup device defaults."""

from __future__ import annotations

import os

import pytest

from hull import errors
from hull.oci import execute, listing, signals, update
from hull.oci.create import ALLOWED_DEVICES, cgroup_resources, host_id
from hull.oci.process import ProcessPlan, find_executable


@pytest.mark.parametrize("text,number", [("KILL", 9), ("SIGKILL", 9), ("9", 9), ("term", 15),
                                         ("SIGUSR1", 10), ("RTMIN+2", 36), ("SIGRTMAX", 64)])
def test_signal_parse(text, number):
    assert signals.parse(text) == number


@pytest.mark.parametrize("text", ["NOPE", "0", "65", "RTMIN+40", ""])
def test_signal_parse_rejects(text):
    with pytest.raises(errors.InvalidArgument):
        signals.parse(text)


def test_update_flags_to_resources():
    resources = update.resources_from_flags({
        "memory": "512m", "memory_swap": "-1", "cpu_share": "512", "cpuset_cpus": "0-1",
        "pids_limit": "100", "blkio_weight": "", "cpu_quota": "50000"})
    assert resources == {"memory": {"limit": 512 << 20, "swap": -1},
                         "cpu": {"shares": 512, "cpus": "0-1", "quota": 50000},
                         "pids": {"limit": 100}}
    with pytest.raises(errors.InvalidArgument, match="--memory"):
        update.resources_from_flags({"memory": "lots"})


def test_table_like_go_tabwriter():
    text = listing.format_table([["ID", "PID", "CREATED"], ["x", "1", "2026-01-01T00:00:00Z"]])
    assert text.splitlines() == ["ID          PID         CREATED", "x           1           "
                                 "2026-01-01T00:00:00Z"]


def test_exec_process_from_args_follows_runc():
    base = {"args": ["sleep"], "cwd": "/", "env": ["PATH=/bin"], "terminal": True,
            "consoleSize": {"height": 1, "width": 1}, "user": {"uid": 5, "gid": 5},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]}}
    process = execute.process_from_args(base, ["ls", "-l"], cwd="/tmp", env=["A=1"],
                                        user="1000:100", additional_gids=["7"],
                                        caps=["CAP_CHOWN"], no_new_privs=True)
    assert process["args"] == ["ls", "-l"] and process["terminal"] is False
    assert process["env"] == ["PATH=/bin", "A=1"] and process["cwd"] == "/tmp"
    assert process["user"] == {"uid": 1000, "gid": 100, "additionalGids": [7]}
    assert process["capabilities"]["bounding"] == ["CAP_KILL", "CAP_CHOWN"]
    assert "ambient" not in process["capabilities"]   # no inheritable set: no ambient
    assert process["noNewPrivileges"] is True and "consoleSize" not in process
    assert base["args"] == ["sleep"]                  # the container's process untouched
    with pytest.raises(errors.InvalidArgument, match="--user"):
        execute.process_from_args(base, ["ls"], user="root")


def test_find_executable_uses_the_process_path(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / "bin" / "data").write_text("")
    plan = ProcessPlan({"args": ["tool"], "env": [f"PATH=/nonexistent:{tmp_path}/bin"]},
                       container_id="c")
    assert find_executable(plan) == str(tool)
    plan = ProcessPlan({"args": ["data"], "env": [f"PATH={tmp_path}/bin"]}, container_id="c")
    with pytest.raises(errors.NotFound, match='"data": executable file not found in \\$PATH'):
        find_executable(plan)
    monkeypatch.chdir(tmp_path)
    plan = ProcessPlan({"args": ["./bin/tool"], "env": []}, container_id="c")
    assert find_executable(plan) == "./bin/tool"


def test_host_id_maps():
    maps = [{"containerID": 0, "hostID": 1000, "size": 10},
            {"containerID": 100, "hostID": 5000, "size": 1}]
    assert host_id(maps, 0) == 1000 and host_id(maps, 9) == 1009 and host_id(maps, 100) == 5000
    assert host_id(None, 0) == 0


def test_cgroup_resources_append_runtime_devices():
    linux = {"resources": {"devices": [{"allow": False, "access": "rwm"}]},
             "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]}
    devices = cgroup_resources(linux)["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}       # the user's rules first
    assert devices[-1] == {"allow": True, "type": "c", "major": 10, "minor": 229,
                           "access": "rwm"}
    assert len(devices) == 1 + len(ALLOWED_DEVICES) + 1
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in devices
    assert linux["resources"]["devices"] == [{"allow": False, "access": "rwm"}]


def test_resolve_in_root_expands_symlinks_inside(tmp_path):
    from hull.sys.mounts import resolve_in_root

    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "abs").symlink_to("/real")
    (root / "rel").symlink_to("../../../real")
    (root / "loop").symlink_to("loop")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert resolve_in_root(fd, "/abs/x/y") == "/real/x/y"
        assert resolve_in_root(fd, "/rel/x") == "/real/x"
        assert resolve_in_root(fd, "/a/../../b") == "/b"
        with pytest.raises(OSError):
            resolve_in_root(fd, "/loop/x")
    finally:
        os.close(fd)
