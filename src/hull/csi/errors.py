"""The one CSI outcome hull.errors has no category for: ABORTED.

The CSI spec answers ABORTED for "an operation is already pending for this
volume" and for a pagination token that no longer points anywhere. It
subclasses HullError so the interceptor maps it like every other
category; it belongs in hull.errors (proposed to the lead).
"""

from __future__ import annotations

from hull.errors import HullError


class Aborted(HullError):
    grpc_code = "ABORTED"
