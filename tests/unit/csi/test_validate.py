"""Argument validation and pagination tokens, without a server."""

from __future__ import annotations

import pytest

from hull import errors
from hull._generated import csi_pb2 as pb
from hull.csi import pagination, validate
from hull.csi.errors import Aborted

MODE = pb.VolumeCapability.AccessMode


def test_capability_needs_access_type_and_mode():
    with pytest.raises(errors.InvalidArgument, match="access type"):
        validate.capability(pb.VolumeCapability(access_mode=MODE(mode=1)), "x")
    with pytest.raises(errors.InvalidArgument, match="access mode"):
        validate.capability(pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume()), "x")
    cap = validate.capability(pb.VolumeCapability(
        mount=pb.VolumeCapability.MountVolume(fs_type="xfs", mount_flags=["noatime"]),
        access_mode=MODE(mode=MODE.SINGLE_NODE_WRITER)), "x")
    assert cap == validate.Capability(block=False, mode=1, fs_type="xfs",
                                      mount_flags=("noatime",))


def test_unknown_fs_type_is_refused():
    with pytest.raises(errors.InvalidArgument, match="btrfs"):
        validate.capability(pb.VolumeCapability(
            mount=pb.VolumeCapability.MountVolume(fs_type="btrfs"),
            access_mode=MODE(mode=1)), "x")


@pytest.mark.parametrize("path", ["relative", "/a/../b", "/a/\0b", ""])
def test_bad_paths(path):
    with pytest.raises(errors.InvalidArgument):
        validate.path(path, "target_path", "x")


def test_good_path_is_normalised():
    assert validate.path("/var//lib/./x/", "p", "x") == "/var/lib/x"


def test_under_allowed_roots(tmp_path):
    validate.under(str(tmp_path / "a"), (str(tmp_path),), "p", "x")
    with pytest.raises(errors.InvalidArgument, match="outside"):
        validate.under("/etc", (str(tmp_path),), "p", "x")
    validate.under("/etc", (), "p", "x")  # no roots configured: anything


def test_names():
    assert validate.name("a" * 128, "name", "x")
    with pytest.raises(errors.InvalidArgument, match="longer"):
        validate.name("a" * 129, "name", "x")
    with pytest.raises(errors.InvalidArgument, match="control"):
        validate.name("bad\x07name", "name", "x")


def _range(required=0, limit=0):
    return pb.CapacityRange(required_bytes=required, limit_bytes=limit)


def test_capacity_choice():
    pick = lambda r: validate.capacity(r, 100, 10, 4, 1000, "x")  # noqa: E731
    assert pick(None) == 100
    assert pick(_range(required=5)) == 12  # raised to the minimum, then aligned
    assert pick(_range(limit=50)) == 52 - 4  # default capped by the limit, aligned down
    with pytest.raises(errors.InvalidArgument):
        pick(_range(required=-1))
    with pytest.raises(errors.InvalidArgument):
        pick(_range(required=20, limit=10))
    with pytest.raises(errors.OutOfRange):
        pick(_range(required=2000))
    with pytest.raises(errors.OutOfRange):
        pick(_range(limit=5))


def test_fits():
    assert validate.fits(None, 5)
    assert validate.fits(_range(required=5), 5)
    assert not validate.fits(_range(required=6), 5)
    assert not validate.fits(_range(limit=4), 5)


def test_pagination_walk_and_tokens():
    items = list(range(7))
    page, token = pagination.page(items, 3, "")
    assert page == [0, 1, 2] and token == "3"
    page, token = pagination.page(items, 3, token)
    assert page == [3, 4, 5] and token == "6"
    page, token = pagination.page(items, 3, token)
    assert page == [6] and token == ""
    assert pagination.page(items, 0, "") == (items, "")
    assert pagination.page(items, 0, "7") == ([], "")


@pytest.mark.parametrize("token", ["x", "-1", "8", "1.5"])
def test_bad_tokens_are_aborted(token):
    with pytest.raises(Aborted):
        pagination.page(list(range(7)), 2, token)


def test_negative_max_entries():
    with pytest.raises(errors.InvalidArgument):
        pagination.page([], -1, "")
