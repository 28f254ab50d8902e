"""The order of the user switch, on a recording fake of the syscalls: the
bounding set is dropped while we still may, ids change with keepcaps on,
and the capability sets are set after the uid change."""

from __future__ import annotations

import types

from hull.oci import process as proc


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(*args):
            self.calls.append((name, *args))
        return record


def test_set_user_order(monkeypatch):
    rec = Recorder()
    fake_caps = types.SimpleNamespace(
        bounding=lambda: 0b11,
        parse=lambda names, grantable: sum(1 << i for i, n in enumerate(["CAP_CHOWN", "CAP_KILL"])
                                           if n in names and grantable >> i & 1),
        drop_bounding=rec.drop_bounding, set_keepcaps=rec.set_keepcaps, capset=rec.capset,
        set_ambient=rec.set_ambient)
    monkeypatch.setattr(proc, "_capabilities", lambda: fake_caps)
    monkeypatch.setattr(proc.posix, "setgroups", rec.setgroups)
    monkeypatch.setattr(proc.posix, "setresgid", rec.setresgid)
    monkeypatch.setattr(proc.posix, "setresuid", rec.setresuid)
    monkeypatch.setattr(proc.posix, "umask", rec.umask)
    plan = proc.ProcessPlan({"args": ["x"], "user": {"uid": 1000, "gid": 100,
                                                     "additionalGids": [5], "umask": 0o27},
                             "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"],
                                              "effective": ["CAP_KILL"],
                                              "permitted": ["CAP_KILL"],
                                              "ambient": ["CAP_KILL"]}},
                            container_id="c")
    proc.set_user(plan)
    assert rec.calls == [
        ("drop_bounding", 0b11), ("set_keepcaps", True), ("setgroups", [5]),
        ("setresgid", 100, 100, 100), ("setresuid", 1000, 1000, 1000),
        ("set_keepcaps", False), ("capset", 0b10, 0b10, 0),
        ("set_ambient", 0),   # ambient needs inheritable too: none raised
        ("umask", 0o27)]


def test_no_capabilities_field_leaves_them_alone(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(proc, "_capabilities", lambda: rec)
    for name in ("setgroups", "setresgid", "setresuid", "umask"):
        monkeypatch.setattr(proc.posix, name, getattr(rec, name))
    proc.set_user(proc.ProcessPlan({"args": ["x"]}, container_id="c"))
    assert [c[0] for c in rec.calls] == ["setgroups", "setresgid", "setresuid", "umask"]
