import errno

import pytest

from hull import errors


@pytest.mark.parametrize("code, category", [
    (errno.ENOENT, errors.NotFound),
    (errno.EEXIST, errors.AlreadyExists),
    (errno.EPERM, errors.PermissionDenied),
    (errno.ENOSPC, errors.ResourceExhausted),
    (errno.EIO, errors.Internal),
])
def test_from_oserror_maps_errno_to_category(code, category):
    err = errors.from_oserror(OSError(code, "boom", "/x"), "cannot open thing t1")
    assert type(err) is category
    assert str(err) == "cannot open thing t1: boom (/x)"


def test_every_category_is_a_hull_error_with_a_grpc_code():
    for name in ("NotFound", "AlreadyExists", "InvalidArgument", "FailedPrecondition",
                 "ResourceExhausted", "OutOfRange", "Unavailable", "DeadlineExceeded",
                 "PermissionDenied", "Internal", "Aborted"):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.HullError)
        assert cls.grpc_code not in ("", "UNKNOWN")
