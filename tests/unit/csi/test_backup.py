"""Backup and restore of a dir volume through the library (no root: a dir
volume needs no mounts to read or fill)."""

from __future__ import annotations

import io
import tarfile

import pytest

from hull import errors
from hull._generated import csi_pb2 as pb
from hull.csi import backup
from hull.csi.controller import ControllerService
from hull.csi.driver import Config, Driver

CAP = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(),
                          access_mode=pb.VolumeCapability.AccessMode(mode=1))


@pytest.fixture
def driver(tmp_path):
    d = Driver(Config(node_id="n", root=str(tmp_path / "root")))
    yield d
    d.close()


def _volume(driver, name: str) -> str:
    request = pb.CreateVolumeRequest(name=name, volume_capabilities=[CAP])
    request.capacity_range.required_bytes = 5 << 20
    return ControllerService(driver).CreateVolume(request, None).volume.volume_id


def test_round_trip_with_header(driver, tmp_path):
    source = _volume(driver, "src")
    top = tmp_path / "root/volumes" / source
    (top / "dir").mkdir()
    (top / "dir/file").write_bytes(b"payload")
    stream = io.BytesIO()
    assert backup.backup(driver, source, stream) == 1
    stream.seek(0)
    tar, header = backup.read_header(stream)
    assert header["capacity"] == str(5 << 20) and header["backend"] == "dir"
    target = _volume(driver, "dst")
    assert backup.restore(driver, target, tar) == 2
    assert (tmp_path / "root/volumes" / target / "dir/file").read_bytes() == b"payload"


def test_restore_refuses_non_empty_and_escapes(driver, tmp_path):
    target = _volume(driver, "busy")
    (tmp_path / "root/volumes" / target / "existing").write_text("x")
    empty = io.BytesIO()
    with tarfile.open(fileobj=empty, mode="w"):
        pass
    empty.seek(0)
    with pytest.raises(errors.FailedPrecondition, match="not empty"):
        backup.restore(driver, target, backup.read_header(empty)[0])
    def archive(name: str) -> tarfile.TarFile:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
        data.seek(0)
        return backup.read_header(data)[0]

    with pytest.raises(errors.InvalidArgument, match="unsafe"):
        backup.restore(driver, _volume(driver, "clean"), archive("../evil"))
    # an absolute name lands inside the volume (the "tar" filter strips the "/")
    inside = _volume(driver, "inside")
    backup.restore(driver, inside, archive("/etc/evil"))
    assert (tmp_path / "root/volumes" / inside / "etc/evil").exists()


def test_unknown_volume_is_not_found(driver):
    with pytest.raises(errors.NotFound):
        backup.backup(driver, "vol-nope", io.BytesIO())
