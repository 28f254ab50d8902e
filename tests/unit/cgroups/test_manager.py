"""Behaviour shared by every backend (hull.cgroups.manager)."""

from __future__ import annotations

import os

import pytest

from hull.cgroups import manager as manager_module
from hull.cgroups.v1 import V1Manager


def test_kill_all_without_freezer_still_signals(tmp_path, monkeypatch):
    """A v1 host without the freezer controller: signal without freezing."""
    calls = []
    mgr = V1Manager({"devices": str(tmp_path)}, container_id="c")
    monkeypatch.setattr(mgr, "pids", lambda: [111, 222])
    monkeypatch.setattr(manager_module.posix, "kill", lambda pid, sig: calls.append((pid, sig)))
    mgr.kill_all(15)
    assert calls == [(111, 15), (222, 15)]
    assert not mgr.can_freeze()


def test_kill_all_on_missing_cgroup_is_a_no_op(tmp_path):
    mgr = V1Manager({"freezer": str(tmp_path / "gone")}, container_id="c")
    mgr.kill_all()
    assert mgr.pids() == []


def test_stats_of_a_removed_cgroup_are_zeros(tmp_path):
    from hull.cgroups import stats

    gone = str(tmp_path / "gone")
    mgr = V1Manager({name: gone for name in ("cpu", "cpuacct", "cpuset", "memory", "pids",
                                             "blkio", "hugetlb", "freezer")},
                    container_id="c")
    assert mgr.stats() == stats.empty()


def test_failed_create_removes_what_it_made(tmp_path, monkeypatch):
    from hull.cgroups import files
    from hull.errors import PermissionDenied

    ok, bad = tmp_path / "memory" / "ctr", tmp_path / "pids" / "ctr"
    real_mkdir = files.mkdir

    def mkdir(path):
        if path == str(bad):
            raise PermissionDenied(f"cannot create cgroup {path}: refused")
        return real_mkdir(path)

    monkeypatch.setattr(files, "mkdir", mkdir)
    monkeypatch.setattr(files, "rmdir_tree", lambda path, attempts=1: os.rmdir(path))
    mgr = V1Manager({"memory": str(ok), "pids": str(bad)}, container_id="c")
    with pytest.raises(PermissionDenied):
        mgr.create()
    assert not ok.exists()
    assert (tmp_path / "memory").is_dir()   # parents may be shared: kept
