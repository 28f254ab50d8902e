"""hull.sys pieces the driver relies on: the loop ioctl structures match the
kernel ABI, and the sparse copy keeps data and holes."""

from __future__ import annotations

import ctypes
import os

from hull.sys import filecopy, loop


def test_loop_structs_match_the_kernel_abi():
    # include/uapi/linux/loop.h: loop_info64 is 232 bytes, loop_config 304
    assert ctypes.sizeof(loop.LoopInfo64) == 232
    assert ctypes.sizeof(loop.LoopConfig) == 304
    assert loop.LoopConfig.info.offset == 8


def test_loop_info_carries_the_backing_name_truncated():
    info = loop._info("/x" * 100, loop.LO_FLAGS_DIRECT_IO)
    assert info.lo_flags == loop.LO_FLAGS_DIRECT_IO
    assert len(info.lo_file_name) == loop.LO_NAME_SIZE - 1


def test_sparse_copy_keeps_data_and_holes(tmp_path):
    src, dst = tmp_path / "src.img", tmp_path / "dst.img"
    with open(src, "wb") as f:
        f.truncate(64 << 20)
        f.seek(1 << 20)
        f.write(b"A" * 4096)
        f.seek(40 << 20)
        f.write(b"B" * 8192)
    method = filecopy.clone_file(str(src), str(dst))
    assert method in ("reflink", "copy")
    assert src.read_bytes() == dst.read_bytes()
    assert os.stat(dst).st_size == 64 << 20
    assert os.stat(dst).st_blocks * 512 < 4 << 20  # the holes stayed holes


def test_clone_tree_copies_links_and_modes(tmp_path):
    src = tmp_path / "src"
    (src / "a/b").mkdir(parents=True)
    (src / "a/b/file").write_text("data")
    os.chmod(src / "a/b/file", 0o600)
    os.symlink("a/b/file", src / "link")
    filecopy.clone_tree(str(src), str(tmp_path / "dst"))
    assert (tmp_path / "dst/a/b/file").read_text() == "data"
    assert os.readlink(tmp_path / "dst/link") == "a/b/file"
    assert os.stat(tmp_path / "dst/a/b/file").st_mode & 0o777 == 0o600
