"""hull.images.Image -> CRI Image."""

from __future__ import annotations

from hull._generated import api_pb2 as api
from hull.cri.images import image_user_config


def to_cri(image) -> api.Image:
    out = api.Image(id=image.id, repo_tags=image.repo_tags, repo_digests=image.repo_digests,
                    size=max(int(image.size), 1))
    out.spec.image = image.id
    user = image_user_config(image).get("User", "")
    name = user.split(":", 1)[0]
    if name.isdigit():
        out.uid.value = int(name)
    elif name:
        out.username = name
    labels = image_user_config(image).get("Labels") or {}
    out.pinned = labels.get("io.cri-containerd.pinned") == "pinned"
    return out
