"""The exceptions hull raises, one hierarchy for every layer.

    HullError                  root; never raised bare
    ├── NotFound               the object does not exist
    ├── AlreadyExists          an object with that id or name exists
    ├── InvalidArgument        the caller's input is wrong (config, flag, request)
    ├── FailedPrecondition     the object is in the wrong state for the verb
    ├── ResourceExhausted      no room left (IP range, disk, capacity)
    ├── OutOfRange             a value past what the backend allows
    ├── Unavailable            a peer (registry, plugin, daemon) cannot be reached
    ├── DeadlineExceeded       a peer or hook took longer than allowed
    ├── Aborted                a concurrent operation on the same object is in flight
    ├── PermissionDenied       the kernel or a peer refused us
    └── Internal               a bug or an unexpected kernel answer

Foreign exceptions (OSError, json errors, gRPC errors) are converted at one
boundary per layer with ``raise Category(...) from e``. Edges translate the
categories: CLI exit codes and messages, the gRPC interceptor, the CNI
plugin skeleton's error JSON.

Messages read "cannot <verb> <object> <id>: <cause>".
"""

from __future__ import annotations


class HullError(Exception):
    """Root of every hull error."""

    #: name of the gRPC status code this category maps to (see hull.cri/csi edges)
    grpc_code = "UNKNOWN"


class NotFound(HullError):
    grpc_code = "NOT_FOUND"


class AlreadyExists(HullError):
    grpc_code = "ALREADY_EXISTS"


class InvalidArgument(HullError):
    grpc_code = "INVALID_ARGUMENT"


class FailedPrecondition(HullError):
    grpc_code = "FAILED_PRECONDITION"


class ResourceExhausted(HullError):
    grpc_code = "RESOURCE_EXHAUSTED"


class OutOfRange(HullError):
    grpc_code = "OUT_OF_RANGE"


class Unavailable(HullError):
    grpc_code = "UNAVAILABLE"


class DeadlineExceeded(HullError):
    grpc_code = "DEADLINE_EXCEEDED"


class Aborted(HullError):
    grpc_code = "ABORTED"


class PermissionDenied(HullError):
    grpc_code = "PERMISSION_DENIED"


class Internal(HullError):
    grpc_code = "INTERNAL"


def from_oserror(err: OSError, what: str) -> HullError:
    """Turn an OSError into the matching category, message "<what>: <strerror>"."""
    import errno

    cause = err.strerror or str(err)
    if err.filename and str(err.filename) not in what:
        cause = f"{cause} ({err.filename})"
    message = f"{what}: {cause}"
    category = {
        errno.ENOENT: NotFound,
        errno.EEXIST: AlreadyExists,
        errno.EINVAL: InvalidArgument,
        errno.EPERM: PermissionDenied,
        errno.EACCES: PermissionDenied,
        errno.ENOSPC: ResourceExhausted,
        errno.EDQUOT: ResourceExhausted,
        errno.ETIMEDOUT: DeadlineExceeded,
        errno.EBUSY: FailedPrecondition,
        errno.ECONNREFUSED: Unavailable,
    }.get(err.errno, Internal)
    return category(message)
