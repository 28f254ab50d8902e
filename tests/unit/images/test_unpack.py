"""Layer unpacking: entry types kept, whiteouts converted, hostile entries refused."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from hull import errors
from hull.snapshots import HostileLayer, apply_tar

from .conftest import tar_bytes

REG, DIR, SYM, LNK = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
USER_OPAQUE = "user.overlay.opaque"  # trusted.* needs CAP_SYS_ADMIN; same code path


def unpack(tmp_path, entries, **kw):
    root = tmp_path / "layer"
    root.mkdir(exist_ok=True)
    kw.setdefault("opaque_xattr", USER_OPAQUE)
    result = apply_tar(io.BytesIO(tar_bytes(entries)), str(root), **kw)
    return root, result.entries


def test_regular_entries_keep_content_modes_mtimes_links(tmp_path):
    root, count = unpack(tmp_path, [
        ({"name": "etc", "type": DIR, "mode": 0o750, "mtime": 1_000_000}, None),
        ({"name": "etc/conf", "mode": 0o640, "mtime": 1_234_567}, b"hello"),
        ({"name": "etc/hard", "type": LNK, "linkname": "etc/conf"}, None),
        ({"name": "etc/soft", "type": SYM, "linkname": "/etc/conf", "mtime": 7}, None),
        ({"name": "run/fifo", "type": tarfile.FIFOTYPE, "mode": 0o600}, None),
        ({"name": "./usr/bin/tool", "mode": 0o4755}, b"#!"),
    ])
    assert count == 6
    conf = root / "etc/conf"
    assert conf.read_bytes() == b"hello"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert conf.stat().st_mtime == 1_234_567
    assert (root / "etc/hard").stat().st_ino == conf.stat().st_ino
    assert os.readlink(root / "etc/soft") == "/etc/conf"
    assert stat.S_ISFIFO((root / "run/fifo").lstat().st_mode)
    assert stat.S_IMODE((root / "usr/bin/tool").stat().st_mode) == 0o4755
    assert stat.S_IMODE((root / "etc").stat().st_mode) == 0o750
    assert (root / "etc").stat().st_mtime == 1_000_000  # set after its children


def test_xattrs_from_pax_headers(tmp_path):
    root, _ = unpack(tmp_path, [
        ({"name": "f", "pax": {"SCHILY.xattr.user.hull": "yes"}}, b"x"),
    ])
    assert os.getxattr(root / "f", "user.hull") == b"yes"


def test_overlay_private_xattrs_are_dropped(tmp_path):
    root, _ = unpack(tmp_path, [
        ({"name": "d", "type": DIR, "mode": 0o755,
          "pax": {"SCHILY.xattr.user.overlay.redirect": "/etc", "SCHILY.xattr.user.ok": "1"}},
         None),
    ])
    assert os.listxattr(root / "d") == ["user.ok"]


def test_whiteout_becomes_char_device_0_0(tmp_path):
    root, _ = unpack(tmp_path, [({"name": "etc/.wh.hostname"}, b"")])
    st = (root / "etc/hostname").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not (root / "etc/.wh.hostname").exists()


def test_opaque_marker_sets_xattr_on_the_directory(tmp_path):
    root, _ = unpack(tmp_path, [
        ({"name": "data", "type": DIR, "mode": 0o755}, None),
        ({"name": "data/.wh..wh..opq"}, b""),
        ({"name": "data/new"}, b"1"),
    ])
    assert os.getxattr(root / "data", USER_OPAQUE) == b"y"
    assert sorted(os.listdir(root / "data")) == ["new"]


def test_later_entry_replaces_earlier(tmp_path):
    root, _ = unpack(tmp_path, [
        ({"name": "a"}, b"file"),
        ({"name": "a", "type": DIR, "mode": 0o755}, None),
        ({"name": "a/b"}, b"inner"),
        ({"name": "c", "type": DIR, "mode": 0o755}, None),
        ({"name": "c/d"}, b"x"),
        ({"name": "c"}, b"now a file"),
    ])
    assert (root / "a/b").read_bytes() == b"inner"
    assert (root / "c").read_bytes() == b"now a file"


HOSTILE = [
    ("dotdot", [({"name": "../escape"}, b"x")], "'..' component"),
    ("dotdot-deep", [({"name": "a/../../escape"}, b"x")], "'..' component"),
    ("symlink-dir-then-write", [
        ({"name": "evil", "type": SYM, "linkname": "/tmp"}, None),
        ({"name": "evil/owned"}, b"x"),
    ], "written through 'evil'"),
    ("relative-symlink-out", [
        ({"name": "up", "type": SYM, "linkname": "../../.."}, None),
        ({"name": "up/etc/owned"}, b"x"),
    ], "written through 'up'"),
    ("hardlink-outside", [({"name": "h", "type": LNK, "linkname": "../../etc/passwd"}, None)],
     "'..' component"),
    ("hardlink-absolute-missing", [({"name": "h", "type": LNK, "linkname": "/etc/shadow"}, None)],
     "not in this layer"),
    ("hardlink-through-symlink", [
        ({"name": "s", "type": SYM, "linkname": "/etc"}, None),
        ({"name": "h", "type": LNK, "linkname": "s/passwd"}, None),
    ], "not a directory"),
    ("whiteout-dotdot", [({"name": "a/.wh..."}, b"")], "whiteout"),
    ("nul-in-name", [({"name": "a", "pax": {"path": "a\0b"}}, b"x")], "NUL byte"),
    ("device-not-allowed", [({"name": "dev/sda", "type": tarfile.BLKTYPE, "devmajor": 8}, None)],
     "device node"),
]


@pytest.mark.parametrize("name,entries,message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_entries_are_refused(tmp_path, name, entries, message):
    outside = tmp_path / "outside"
    outside.mkdir()
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(HostileLayer, match=message) as info:
        unpack(tmp_path, entries, allow_devices=False)
    assert "entry" in str(info.value)
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["layer"])
    assert os.listdir(outside) == []
    assert not os.path.exists("/tmp/owned")


def test_absolute_paths_stay_inside_the_layer(tmp_path):
    root, _ = unpack(tmp_path, [({"name": "/etc/passwd-hull-test"}, b"inside")])
    assert (root / "etc/passwd-hull-test").read_bytes() == b"inside"
    assert not os.path.exists("/etc/passwd-hull-test")


def test_huge_declared_size_is_bounded(tmp_path):
    with pytest.raises(errors.ResourceExhausted, match="free space"):
        unpack(tmp_path, [({"name": "big"}, b"x" * 4096)], max_bytes=1000)


def test_truncated_tar_stream_is_an_error(tmp_path):
    data = tar_bytes([({"name": "f"}, b"y" * 5000)])[:2048]
    root = tmp_path / "layer"
    root.mkdir()
    with pytest.raises(errors.InvalidArgument):
        apply_tar(io.BytesIO(data), str(root))


@pytest.mark.parametrize("relative,link,expected", [
    ("lib", "usr/lib", "usr/lib"),
    ("lib", "/usr/lib", "usr/lib"),
    ("a/lib", "../usr/lib", "usr/lib"),
    ("lib", "../../../../../etc", "etc"),  # clamped at the image root, never outside
    ("lib", "/", ""),
])
def test_symlink_targets_resolve_inside_the_image(relative, link, expected):
    from hull.snapshots.implied import resolve_in_image

    assert resolve_in_image(relative, link) == expected


def test_implied_dirs_take_lower_metadata_and_follow_lower_symlinks(tmp_path):
    from hull.snapshots.implied import fix_implied_dirs

    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "usr/lib").mkdir(parents=True)
    (lower / "tmp").mkdir()
    os.chmod(lower / "tmp", 0o1777)
    os.utime(lower / "tmp", (5, 5))
    (lower / "lib").symlink_to("usr/lib")
    (upper / "tmp").mkdir(parents=True)
    (upper / "lib/sub").mkdir(parents=True)
    (upper / "lib/sub/f").write_text("x")
    fix_implied_dirs([str(lower), str(upper)], 1, ["tmp", "lib", "lib/sub"])
    assert stat.S_IMODE((upper / "tmp").stat().st_mode) == 0o1777
    assert (upper / "tmp").stat().st_mtime == 5
    assert not (upper / "lib").exists()
    assert (upper / "usr/lib/sub/f").read_text() == "x"
