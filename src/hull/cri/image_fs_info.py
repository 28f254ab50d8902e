"""ImageFsInfo: bytes and inodes the image store uses."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri.model import now_ns


async def handle(d, request: api.ImageFsInfoRequest, ctx) -> api.ImageFsInfoResponse:
    usage = await d.blocking(d.images.usage)
    fs = api.FilesystemUsage(timestamp=now_ns())
    fs.fs_id.mountpoint = str(usage["path"])
    fs.used_bytes.value = int(usage["used_bytes"])
    fs.inodes_used.value = int(usage["inodes_used"])
    return api.ImageFsInfoResponse(image_filesystems=[fs], container_filesystems=[fs])
