"""CheckpointContainer: not supported (needs CRIU, absent here)."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.errors import HullError


class Unimplemented(HullError):
    grpc_code = "UNIMPLEMENTED"


async def handle(d, request: api.CheckpointContainerRequest, ctx):
    raise Unimplemented(f"cannot checkpoint container {request.container_id}: checkpointing "
                        f"is not supported by hull")
