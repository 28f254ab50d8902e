"""ImageStatus: an absent image is an empty response, not an error (CRI rule)."""

from __future__ import annotations

import json

from hull._generated import api_pb2 as api
from hull.cri.image_convert import to_cri
from hull.errors import InvalidArgument, NotFound


async def handle(d, request: api.ImageStatusRequest, ctx) -> api.ImageStatusResponse:
    if not request.image.image:
        raise InvalidArgument("cannot get image status: no image given")
    try:
        image = await d.blocking(d.images.get, request.image.image)
    except NotFound:
        return api.ImageStatusResponse()
    response = api.ImageStatusResponse(image=to_cri(image))
    if request.verbose:
        response.info["info"] = json.dumps({"imageSpec": image.config,
                                            "manifestDigest": image.manifest_digest,
                                            "chainIDs": image.chain_ids})
    return response
