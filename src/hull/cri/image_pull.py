"""PullImage, with the request's credentials."""

from __future__ import annotations

import base64

from hull._generated import api_pb2 as api
from hull.errors import InvalidArgument


def credentials(auth: api.AuthConfig):
    if not (auth.username or auth.password or auth.auth or auth.identity_token
            or auth.registry_token):
        return None
    from hull.registry.credentials import Credentials

    username, password = auth.username, auth.password
    if auth.auth and not username:
        try:
            username, _, password = base64.b64decode(auth.auth).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidArgument("cannot pull image: auth is not base64 user:password") from e
    return Credentials(username=username, password=password,
                       identity_token=auth.identity_token, registry_token=auth.registry_token)


async def handle(d, request: api.PullImageRequest, ctx) -> api.PullImageResponse:
    ref = request.image.image
    if not ref:
        raise InvalidArgument("cannot pull image: no image given")
    image = await d.blocking(d.images.pull, ref, credentials=credentials(request.auth))
    return api.PullImageResponse(image_ref=image.id)
