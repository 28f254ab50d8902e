import os
import subprocess

import pytest

from hull.testing import busybox

pytestmark = pytest.mark.root


def test_rootfs_runs_a_shell_under_chroot(tmp_path):
    root = busybox.make_rootfs(tmp_path / "rootfs")
    assert (root / "bin/sh").is_symlink()
    out = subprocess.run(["chroot", str(root), "/bin/sh", "-c", "echo hi; id -un"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["hi", "root"]
    assert os.stat(root / "tmp").st_mode & 0o1777 == 0o1777
