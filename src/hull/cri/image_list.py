"""ListImages and StreamImages."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri.image_convert import to_cri
from hull.errors import NotFound


def matching(d, f: api.ImageFilter) -> list[api.Image]:
    if f.image.image:
        try:
            return [to_cri(d.images.get(f.image.image))]
        except NotFound:
            return []
    return [to_cri(image) for image in d.images.list()]


async def handle(d, request: api.ListImagesRequest, ctx) -> api.ListImagesResponse:
    return api.ListImagesResponse(images=await d.blocking(matching, d, request.filter))


async def stream(d, request: api.StreamImagesRequest, ctx):
    items = await d.blocking(matching, d, request.filter)
    for start in range(0, max(len(items), 1), 500):
        yield api.StreamImagesResponse(images=items[start:start + 500])
