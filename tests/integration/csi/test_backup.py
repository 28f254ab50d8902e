"""``hull volume backup`` / ``restore`` through the real CLI against the
driver's state, for a live (staged) volume and an unstaged loop volume."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import pytest

from hull._generated import csi_pb2 as pb

pytestmark = pytest.mark.root


def _hull(plugin, *args, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hull.cli.main", "volume", *args,
                           "--csi-root", plugin.root, "--node-id", "hull-csi-test-node"],
                          input=stdin, capture_output=True, timeout=120)


@pytest.mark.parametrize("backend", ["dir", "loop"])
def test_backup_then_restore_into_new_and_existing(plugin, backend):
    vol = plugin.create(f"hull-csi-test-backup-{backend}", backend=backend)
    staging = f"{plugin.base}/staging"
    plugin.stage(vol.volume_id, staging)
    os.makedirs(f"{staging}/sub/dir")
    with open(f"{staging}/sub/dir/file", "w") as f:
        f.write("backed up")
    os.symlink("sub/dir/file", f"{staging}/link")
    os.chmod(f"{staging}/sub/dir/file", 0o640)
    plugin.unstage(vol.volume_id, staging)  # loop: backup must attach and mount itself

    archive = f"{plugin.base}/backup.tar"
    done = _hull(plugin, "backup", vol.volume_id, "-o", archive)
    assert done.returncode == 0, done.stderr
    with tarfile.open(archive) as tar:
        assert tar.pax_headers["hull.volume.backend"] == backend
        assert "sub/dir/file" in tar.getnames()

    done = _hull(plugin, "restore", "--new", f"hull-csi-test-restored-{backend}", "-i", archive)
    assert done.returncode == 0, done.stderr
    new_id = done.stdout.decode().strip()
    listed = {e.volume.volume_id: e.volume for e in plugin.controller.ListVolumes(
        pb.ListVolumesRequest()).entries}
    assert listed[new_id].capacity_bytes == vol.capacity_bytes
    plugin.stage(new_id, f"{plugin.base}/restored")
    with open(f"{plugin.base}/restored/link") as f:
        assert f.read() == "backed up"
    assert os.stat(f"{plugin.base}/restored/sub/dir/file").st_mode & 0o777 == 0o640

    # restoring into a volume that has data is refused; an empty one accepts
    with open(archive, "rb") as f:
        busy = _hull(plugin, "restore", new_id, "-i", "-", stdin=f.read())
    assert busy.returncode == 5 and b"not empty" in busy.stderr
    empty = plugin.create(f"hull-csi-test-empty-{backend}", backend=backend)
    done = _hull(plugin, "restore", empty.volume_id, "-i", archive)
    assert done.returncode == 0, done.stderr
    plugin.unstage(new_id, f"{plugin.base}/restored")


def test_restore_refuses_escaping_entries(plugin):
    vol = plugin.create("hull-csi-test-evil")
    evil = f"{plugin.base}/evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../../escaped")
        info.size = 0
        tar.addfile(info)
    done = _hull(plugin, "restore", vol.volume_id, "-i", evil)
    assert done.returncode == 2 and b"unsafe" in done.stderr
    assert not os.path.exists(f"{plugin.root}/escaped")


def test_raw_block_volume_is_not_formatted_by_backup(plugin):
    from tests.integration.csi.conftest import block_cap
    vol = plugin.create("hull-csi-test-raw", 16 << 20, "loop", caps=[block_cap()])
    image = f"{plugin.root}/volumes/{vol.volume_id}.img"
    with open(image, "r+b") as f:
        f.write(b"raw bytes, no filesystem")
    done = _hull(plugin, "backup", vol.volume_id, "-o", f"{plugin.base}/raw.tar")
    assert done.returncode == 5 and b"no filesystem" in done.stderr
    with open(image, "rb") as f:
        assert f.read(24) == b"raw bytes, no filesystem"
    assert not os.path.exists(f"{plugin.base}/raw.tar")
