"""hull.sys.pathname gives posixpath's answers without importing os."""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys

import pytest

import hull
from hull.sys import pathname

PATHS = ["", ".", "..", "/", "//", "///", "//a", "///a", "a", "a/", "a/b", "/a/b/", "/a/./b",
         "a/../b", "../a", "../../a/b", "/../a", "/a/b/../../..", "a/b/../../..", "./a/.",
         "a//b", "/a/b/c/../d/./e/", "x/../../y"]


@pytest.mark.parametrize("path", PATHS)
def test_normpath(path):
    assert pathname.normpath(path) == posixpath.normpath(path)


@pytest.mark.parametrize("path", PATHS)
def test_dirname(path):
    assert pathname.dirname(path) == posixpath.dirname(path)


@pytest.mark.parametrize("path", [p for p in PATHS if p])
def test_abspath(path):
    assert pathname.abspath(path) == posixpath.abspath(path)


@pytest.mark.parametrize("path", [p for p in PATHS if p])
@pytest.mark.parametrize("start", [".", "/", "/a", "/a/b", "a/c", "../z"])
def test_relpath(path, start):
    assert pathname.relpath(path, start) == posixpath.relpath(path, start)


@pytest.mark.parametrize("parts", [("a", "b"), ("a/", "b"), ("a", "/b", "c"), ("", "b"),
                                   ("/", "x", ""), ("a", "")])
def test_join(parts):
    assert pathname.join(*parts) == posixpath.join(*parts)


def test_exists_isdir_resolve_dir(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "d")
    assert pathname.exists(str(tmp_path / "f")) and not pathname.exists(str(tmp_path / "no"))
    assert pathname.isdir(str(tmp_path / "d")) and not pathname.isdir(str(tmp_path / "f"))
    assert pathname.resolve_dir(str(tmp_path / "link")) == os.path.realpath(tmp_path / "d")
    with pytest.raises(NotADirectoryError):
        pathname.resolve_dir(str(tmp_path / "f"))
    with pytest.raises(FileNotFoundError):
        pathname.resolve_dir(str(tmp_path / "no"))


def test_fsencode_matches_os():
    for name in ("plain", "caf\u00e9", b"raw".decode("utf-8"), "bad\udcff"):
        assert pathname.fsencode(name) == os.fsencode(name)
    assert pathname.fsencode(b"x") == b"x"


def test_imports_no_os():
    src = os.path.dirname(os.path.dirname(hull.__file__))
    code = (f"import sys; sys.path.insert(0, {src!r}); from hull.sys import pathname; "
            "print('os' in sys.modules)")
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_makedirs(tmp_path):
    leaf = tmp_path / "a" / "b" / "c"
    pathname.makedirs(str(leaf), 0o711)
    assert leaf.is_dir() and leaf.stat().st_mode & 0o777 == 0o711
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o777 & ~_umask()
    pathname.makedirs(str(leaf), 0o711)   # exists: fine
    (tmp_path / "f").write_text("")
    with pytest.raises(FileExistsError):
        pathname.makedirs(str(tmp_path / "f"))
    with pytest.raises(NotADirectoryError):
        pathname.makedirs(str(tmp_path / "f" / "x"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
