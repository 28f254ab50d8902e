"""Version."""

from __future__ import annotations

from hull._generated import api_pb2 as api

RUNTIME_NAME = "hull"
RUNTIME_VERSION = "0.1.0"
API_VERSION = "v1"


async def handle(d, request: api.VersionRequest, ctx) -> api.VersionResponse:
    return api.VersionResponse(version="0.1.0", runtime_name=RUNTIME_NAME,
                               runtime_version=RUNTIME_VERSION, runtime_api_version=API_VERSION)
