"""Locks, mount option parsing, the error interceptor, and the controller
handlers on the dir backend in a temporary root (no mounts needed)."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from hull import errors
from hull._generated import csi_pb2 as pb
from hull.csi import mounts
from hull.csi.controller import ControllerService
from hull.csi.driver import Config, Driver
from hull.csi.errors import Aborted
from hull.csi.interceptor import _wrap
from hull.csi.locks import KeyedLocks
from hull.sys import libc, mountinfo

CAP = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(),
                          access_mode=pb.VolumeCapability.AccessMode(mode=1))


def test_same_key_serialises_other_keys_do_not():
    locks, order = KeyedLocks(), []

    def worker(key, tag):
        with locks.hold(key):
            order.append(f"{tag}-in")
            time.sleep(0.05)
            order.append(f"{tag}-out")

    threads = [threading.Thread(target=worker, args=("a", i)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(0, 6, 2):  # each holder left before the next came in
        assert order[i].endswith("-in") and order[i + 1].endswith("-out")
        assert order[i].split("-")[0] == order[i + 1].split("-")[0]
    assert locks.busy() == 0


def test_held_too_long_is_aborted():
    locks = KeyedLocks(timeout=0.05)
    with locks.hold("k"):
        done = []
        t = threading.Thread(target=lambda: done.append(
            pytest.raises(Aborted, lambda: locks.hold("k").__enter__())))
        t.start()
        t.join()
    assert done and locks.busy() == 0


def test_mount_flag_words():
    flags, data = mounts.split_flags(["ro,noexec", "discard", "rw", "nouuid"])
    assert flags == libc.MS_RDONLY | libc.MS_NOEXEC and data == "discard,nouuid"


def test_mountinfo_unescape():
    assert mountinfo.unescape(r"/mnt/with\040space") == "/mnt/with space"


class _Context:
    def abort(self, code, details):
        self.code, self.details = code, details
        raise RuntimeError("aborted")


@pytest.mark.parametrize("error,code", [
    (errors.NotFound("cannot x"), grpc.StatusCode.NOT_FOUND),
    (errors.OutOfRange("cannot x"), grpc.StatusCode.OUT_OF_RANGE),
    (Aborted("cannot x"), grpc.StatusCode.ABORTED),
    (FileNotFoundError(2, "gone"), grpc.StatusCode.NOT_FOUND),
    (ValueError("bug"), grpc.StatusCode.INTERNAL),
])
def test_interceptor_maps_categories(error, code):
    def behavior(request, context):
        raise error
    context = _Context()
    with pytest.raises(RuntimeError):
        _wrap("/csi.v1.Controller/X", behavior)(None, context)
    assert context.code == code and context.details


@pytest.fixture
def controller(tmp_path):
    driver = Driver(Config(node_id="n", root=str(tmp_path / "root")))
    yield ControllerService(driver)
    driver.close()


def test_dir_volume_create_is_idempotent_and_delete_cleans(controller, tmp_path):
    request = pb.CreateVolumeRequest(name="v", volume_capabilities=[CAP])
    request.capacity_range.required_bytes = 1 << 20
    first = controller.CreateVolume(request, None).volume
    assert controller.CreateVolume(request, None).volume == first
    assert (tmp_path / "root/volumes" / first.volume_id).is_dir()
    request.capacity_range.required_bytes = 2 << 20
    with pytest.raises(errors.AlreadyExists):
        controller.CreateVolume(request, None)
    snap = controller.CreateSnapshot(pb.CreateSnapshotRequest(
        source_volume_id=first.volume_id, name="s"), None).snapshot
    controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=first.volume_id), None)
    controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=first.volume_id), None)
    assert not (tmp_path / "root/volumes" / first.volume_id).exists()
    assert (tmp_path / "root/snapshots" / snap.snapshot_id).is_dir()  # independent


def test_pool_refill_waits_for_the_answer(controller):
    class Context:  # grpc runs add_callback's callbacks once the RPC has ended
        def __init__(self):
            self.callbacks = []

        def add_callback(self, callback):
            self.callbacks.append(callback)
            return True

    backend = controller.driver.backends["dir"]
    refills = []
    backend._pool.refill = lambda: refills.append(1)
    context = Context()
    controller.CreateVolume(pb.CreateVolumeRequest(name="v", volume_capabilities=[CAP]), context)
    assert refills == [] and len(context.callbacks) == 1
    context.callbacks[0]()
    assert refills == [1]


def test_published_volume_cannot_be_deleted(controller):
    vol = controller.CreateVolume(pb.CreateVolumeRequest(name="v", volume_capabilities=[CAP]),
                                  None).volume
    controller.ControllerPublishVolume(pb.ControllerPublishVolumeRequest(
        volume_id=vol.volume_id, node_id="n", volume_capability=CAP), None)
    with pytest.raises(errors.FailedPrecondition, match="attached"):
        controller.DeleteVolume(pb.DeleteVolumeRequest(volume_id=vol.volume_id), None)


def test_directory_pool_hands_out_ready_dirs(tmp_path):
    from hull.csi.backends.dir import DirectoryPool
    pool = DirectoryPool(str(tmp_path / "pool"))
    deadline = time.monotonic() + 10
    while len(list((tmp_path / "pool").iterdir())) < DirectoryPool.SIZE:
        assert time.monotonic() < deadline, "pool never filled"
        time.sleep(0.01)
    assert pool.take(str(tmp_path / "vol-a"))
    assert (tmp_path / "vol-a").is_dir() and not list((tmp_path / "vol-a").iterdir())
    assert (tmp_path / "vol-a").stat().st_mode & 0o777 == 0o777


def test_directory_pool_adopts_leftovers_and_skips_vanished_entries(tmp_path, monkeypatch):
    from hull.csi.backends.dir import DirectoryPool
    monkeypatch.setattr(DirectoryPool, "_fill", lambda self: None)  # only the leftovers
    for name in ("a", "b"):
        (tmp_path / "pool" / name).mkdir(parents=True)
    pool = DirectoryPool(str(tmp_path / "pool"))
    (tmp_path / "pool" / "b").rmdir()  # another process took it meanwhile
    assert pool.take(str(tmp_path / "vol-1"))
    assert (tmp_path / "vol-1").is_dir() and not (tmp_path / "pool" / "a").exists()
    assert not pool.take(str(tmp_path / "vol-2"))  # empty now: the caller mkdirs
