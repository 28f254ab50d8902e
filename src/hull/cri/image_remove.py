"""RemoveImage: idempotent. Snapshots of containers still using it are kept by GC."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.errors import InvalidArgument, NotFound


async def handle(d, request: api.RemoveImageRequest, ctx) -> api.RemoveImageResponse:
    ref = request.image.image
    if not ref:
        raise InvalidArgument("cannot remove image: no image given")
    try:
        image = await d.blocking(d.images.get, ref)
    except NotFound:
        return api.RemoveImageResponse()
    # CRI: removing by any name removes the image with all its names
    await d.blocking(d.images.remove, image.id, missing_ok=True)
    return api.RemoveImageResponse()
