"""Capability names, masks, and a real drop in a subprocess (root only)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hull.errors import InvalidArgument
from hull.sys import capabilities as caps


def test_names_are_in_kernel_order():
    names = caps.names()
    assert names[0] == "CAP_CHOWN" and names[21] == "CAP_SYS_ADMIN"
    assert names[40] == "CAP_CHECKPOINT_RESTORE"
    assert len(set(names)) == len(names)


def test_parse_builds_a_mask():
    assert caps.parse(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]) == \
        (1 << 0) | (1 << 5) | (1 << 10)
    assert caps.parse([]) == 0
    assert caps.to_names(caps.parse(["CAP_KILL", "CAP_CHOWN"])) == ["CAP_CHOWN", "CAP_KILL"]


def test_unknown_name_is_named_in_the_error():
    with pytest.raises(InvalidArgument, match="process.capabilities.bounding: .*CAP_FLY"):
        caps.parse(["CAP_CHOWN", "CAP_FLY"], "process.capabilities.bounding")


def test_names_are_exact():
    with pytest.raises(InvalidArgument, match="cap_chown"):
        caps.parse(["cap_chown"])
    with pytest.raises(InvalidArgument, match="NET_ADMIN"):
        caps.parse(["NET_ADMIN"])


def test_caps_beyond_the_kernel_are_skipped(monkeypatch):
    monkeypatch.setattr(caps, "_last_cap", 37)
    assert caps.parse(["CAP_BPF", "CAP_AUDIT_READ"]) == 1 << 37


def test_caps_outside_our_bounding_set_are_skipped(monkeypatch, caplog):
    monkeypatch.setattr(caps, "bounding", lambda: 1 << 0)   # CAP_CHOWN only
    assert caps.parse(["CAP_CHOWN", "CAP_SYS_RESOURCE"]) == 1
    assert "CAP_SYS_RESOURCE" in caplog.text


def test_bounding_matches_proc_status():
    with open("/proc/self/status") as f:
        line = [x for x in f if x.startswith("CapBnd:")][0]
    assert caps.bounding() == int(line.split()[1], 16)


def test_last_cap_matches_proc():
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert caps.last_cap() == int(f.read())


def test_current_reads_proc_status():
    mine = caps.current()
    assert set(mine) == {"inheritable", "permitted", "effective", "bounding", "ambient"}
    assert mine["effective"] & ~mine["permitted"] == 0
    assert caps.capget()[0] == mine["effective"]


DROP = """
import json, os, sys
from hull.sys import capabilities as caps
keep = caps.parse(["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP",
                   "CAP_NET_BIND_SERVICE"])
ambient = caps.parse(["CAP_NET_BIND_SERVICE"])
caps.drop_bounding(keep)
caps.set_keepcaps(True)
os.setgid(65534)
os.setuid(65534)                           # permitted survives thanks to keepcaps
caps.capset(keep & ~caps.parse(["CAP_SETPCAP"]), keep, ambient)
caps.set_ambient(ambient)
print(json.dumps(caps.current()))
try:
    with open("/etc/shadow") as f:
        pass
    print("read shadow")
except OSError as e:
    print("shadow", e.errno)
"""


@pytest.mark.root
def test_subprocess_drops_capabilities():
    result = subprocess.run([sys.executable, "-c", DROP], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    state = json.loads(lines[0])
    keep = caps.parse(["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP",
                       "CAP_NET_BIND_SERVICE"])
    assert state["bounding"] == keep
    assert state["permitted"] == keep
    assert state["effective"] == keep & ~caps.parse(["CAP_SETPCAP"])
    assert state["inheritable"] == caps.parse(["CAP_NET_BIND_SERVICE"])
    assert state["ambient"] == caps.parse(["CAP_NET_BIND_SERVICE"])
    # without CAP_DAC_OVERRIDE, uid 65534 cannot read /etc/shadow (mode 0640 root:shadow)
    assert lines[1] == "shadow 13"
