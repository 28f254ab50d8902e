"""hull.sys.mountinfo on sample lines (proc(5)) and on this process's own table."""

from __future__ import annotations

import pytest

from hull.sys import mountinfo

SAMPLE = (
    "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n"
    "40 31 0:37 / /var/with\\040space rw,nosuid - tmpfs my\\011src rw,size=64k\n"
    "88 36 0:50 / /merged rw - overlay overlay "
    "rw,lowerdir=/l,upperdir=/u\\054x,workdir=/w\n"
    "not a mountinfo line\n"
)


def test_fields_are_split_as_proc5_describes():
    first = mountinfo.parse(SAMPLE)[0]
    assert (first.mount_id, first.parent_id, first.device) == (36, 35, "98:0")
    assert (first.root, first.mountpoint) == ("/mnt1", "/mnt2")
    assert first.options == ("rw", "noatime")
    assert first.optional == ("master:1", "shared:7")
    assert (first.fstype, first.source) == ("ext3", "/dev/root")
    assert first.super_options == ("rw", "errors=continue")


def test_octal_escapes_are_decoded_in_paths_and_source():
    second = mountinfo.parse(SAMPLE)[1]
    assert second.mountpoint == "/var/with space"
    assert second.source == "my\tsrc"
    assert second.optional == ()


def test_escaped_comma_stays_inside_its_super_option():
    overlay = mountinfo.parse(SAMPLE)[2]
    assert overlay.super_option("upperdir") == "/u,x"
    assert overlay.super_option("lowerdir") == "/l"
    assert overlay.super_option("missing") is None


def test_malformed_lines_are_skipped():
    assert [m.mount_id for m in mountinfo.parse(SAMPLE)] == [36, 40, 88]
    assert mountinfo.parse_line("1 2 3") is None
    assert mountinfo.parse_line("x y 0:1 / / rw - tmpfs t rw") is None


@pytest.mark.parametrize("raw, plain", [
    (r"/mnt/with\040space", "/mnt/with space"), (r"a\134b", "a\\b"),
    (r"new\012line", "new\nline"), ("trailing\\", "trailing\\"), (r"\04", r"\04"),
])
def test_unescape(raw, plain):
    assert mountinfo.unescape(raw) == plain


def test_find_returns_the_topmost_mount(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_text("1 0 0:1 / /m rw - tmpfs a rw\n2 1 0:2 / /m rw - tmpfs b rw\n")
    assert mountinfo.find("/m", str(table)).source == "b"
    assert mountinfo.find("/absent", str(table)) is None


def test_own_table_has_a_root_mount():
    assert mountinfo.find("/") is not None
    assert all(m.mountpoint.startswith("/") for m in mountinfo.entries())
