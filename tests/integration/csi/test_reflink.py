"""FICLONE where the filesystem shares extents: an xfs (reflink=1) scratch
filesystem on a loop device stands in for a driver root on xfs."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from hull.csi import mounts
from hull.sys import filecopy, loop

pytestmark = pytest.mark.root


@pytest.fixture
def xfs_dir():
    base = f"/tmp/hull-csi-test-reflink-{uuid.uuid4().hex[:8]}"
    os.makedirs(f"{base}/mnt")
    image = f"{base}/xfs.img"
    with open(image, "wb") as f:
        f.truncate(320 << 20)
    device = loop.attach(image)
    try:
        subprocess.run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", device], check=True)
        mounts.mount_fs(device, f"{base}/mnt", "xfs")
        try:
            yield f"{base}/mnt"
        finally:
            mounts.unmount(f"{base}/mnt")
    finally:
        loop.detach(device)
        subprocess.run(["rm", "-rf", base], check=True)


def test_clone_file_reflinks_on_xfs(xfs_dir):
    src, dst = f"{xfs_dir}/volume.img", f"{xfs_dir}/snapshot.img"
    payload = os.urandom(1 << 20)
    with open(src, "wb") as f:
        f.truncate(64 << 20)
        f.seek(8 << 20)
        f.write(payload)
    free_before = os.statvfs(xfs_dir).f_bfree
    assert filecopy.clone_file(src, dst) == "reflink"
    with open(dst, "rb") as f:
        f.seek(8 << 20)
        assert f.read(1 << 20) == payload
    # shared extents: the copy took (almost) no new blocks
    used = (free_before - os.statvfs(xfs_dir).f_bfree) * os.statvfs(xfs_dir).f_frsize
    assert used < (1 << 20) // 2
