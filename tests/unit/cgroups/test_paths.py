"""Layout detection and runc's cgroupsPath rules, on sample mountinfo texts."""

from __future__ import annotations

import pytest

from hull import cgroups
from hull.cgroups import paths
from hull.errors import FailedPrecondition, InvalidArgument

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
PROC_CGROUP = """\
9:name=systemd:/user.slice
5:devices:/user.slice
4:memory:/process_api/abc
3:cpuset:/
2:cpu,cpuacct:/user.slice
1:freezer:/
0::/user.slice/session-1.scope
"""
UNIFIED = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def hybrid_layout():
    v1, unified = paths.parse_mountinfo(HYBRID)
    return paths.Layout(v1, unified, paths.parse_proc_cgroup(PROC_CGROUP))


def test_hybrid_counts_as_v1_with_unified_mount():
    layout = hybrid_layout()
    assert layout.version == 1 and layout.hybrid
    assert layout.v1["cpu"].mountpoint == "/sys/fs/cgroup/cpu,cpuacct"
    assert layout.v1["cpuacct"] is layout.v1["cpu"]
    assert layout.unified.mountpoint == "/sys/fs/cgroup/unified"
    assert "name=systemd" in layout.v1


def test_pure_unified_is_v2():
    v1, unified = paths.parse_mountinfo(UNIFIED)
    layout = paths.Layout(v1, unified, {"": "/init.scope"})
    assert layout.version == 2 and not layout.hybrid


def test_mountinfo_escapes_are_decoded():
    v1, _ = paths.parse_mountinfo(
        "40 31 0:37 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,pids\n")
    assert v1["pids"].mountpoint == "/sys/fs/cgroup/with space"


def test_absolute_path_is_below_each_mount_point():
    resolved = paths.resolve_v1(hybrid_layout(), "/kubepods/ctr", "ctr")
    assert resolved["memory"] == "/sys/fs/cgroup/memory/kubepods/ctr"
    assert resolved["cpu"] == resolved["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/kubepods/ctr"
    assert resolved["name=systemd"] == "/sys/fs/cgroup/systemd/kubepods/ctr"


def test_relative_path_is_below_own_cgroup_per_controller():
    resolved = paths.resolve_v1(hybrid_layout(), "hull/ctr", "ctr")
    assert resolved["memory"] == "/sys/fs/cgroup/memory/process_api/abc/hull/ctr"
    assert resolved["cpuset"] == "/sys/fs/cgroup/cpuset/hull/ctr"
    assert resolved["devices"] == "/sys/fs/cgroup/devices/user.slice/hull/ctr"


def test_empty_path_uses_container_id():
    resolved = paths.resolve_v1(hybrid_layout(), "", "abc123")
    assert resolved["freezer"] == "/sys/fs/cgroup/freezer/abc123"


def test_relative_path_cannot_climb_out():
    resolved = paths.resolve_v1(hybrid_layout(), "../../etc", "ctr")
    assert resolved["freezer"] == "/sys/fs/cgroup/freezer/etc"


def test_mount_root_is_subtracted_inside_cgroup_namespaces():
    v1, _ = paths.parse_mountinfo(
        "36 31 0:33 /docker/abc /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n")
    layout = paths.Layout(v1, None, {"devices": "/docker/abc/sub"})
    assert paths.resolve_v1(layout, "x", "x")["devices"] == "/sys/fs/cgroup/devices/sub/x"


def test_missing_devices_controller_is_fatal():
    v1, unified = paths.parse_mountinfo(
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
    with pytest.raises(FailedPrecondition, match="devices"):
        paths.resolve_v1(paths.Layout(v1, unified, {}), "/x", "x")


def test_systemd_driver_is_rejected_clearly():
    with pytest.raises(InvalidArgument, match="systemd cgroup driver is not supported"):
        cgroups.open_manager("system.slice:hull:abc", container_id="abc",
                             layout=hybrid_layout())
    with pytest.raises(InvalidArgument, match="systemd cgroup driver is not supported"):
        cgroups.open_manager("/x", container_id="abc", systemd=True, layout=hybrid_layout())


def test_root_path_is_rejected():
    with pytest.raises(InvalidArgument, match="cgroupsPath"):
        paths.resolve_v1(hybrid_layout(), "/", "ctr")


def test_v1_manager_save_load_round_trip():
    mgr = cgroups.open_manager("/a/b", container_id="b", layout=hybrid_layout())
    assert mgr.version == 1
    again = cgroups.load_manager(mgr.save())
    assert again.paths == mgr.paths and again.container_id == "b"
    assert again.path == "/sys/fs/cgroup/freezer/a/b"


def test_load_manager_rejects_unknown_version():
    with pytest.raises(InvalidArgument):
        cgroups.load_manager({"version": 3})


def test_detect_layout_reads_this_host():
    layout = paths.detect_layout()
    assert layout.version in (1, 2)
    assert layout.v1 or layout.unified


def test_public_names():
    assert set(cgroups.__all__) == {"Manager", "Layout", "detect_layout", "open_manager",
                                    "load_manager"}


def test_hybrid_also_places_the_container_in_cgroup2():
    absolute = paths.resolve_v1(hybrid_layout(), "/kubepods/ctr", "ctr")
    assert absolute[""] == "/sys/fs/cgroup/unified/kubepods/ctr"
    relative = paths.resolve_v1(hybrid_layout(), "hull/ctr", "ctr")
    assert relative[""] == "/sys/fs/cgroup/unified/user.slice/session-1.scope/hull/ctr"
