"""Push an image from the content store: layers and config, then the manifest."""

from __future__ import annotations

from hull import errors
from hull.spec import image as spec


def image_manifest(store, image) -> tuple[bytes, spec.Manifest]:
    data = store.content.read(image.manifest_digest)
    try:
        return data, spec.parse_manifest(data, image.manifest_media_type)
    except ValueError as e:
        raise errors.Internal(f"stored manifest {image.manifest_digest} is invalid: {e}") from e


def push_image(store, image, reference, client, progress=None) -> str:
    data, manifest = image_manifest(store, image)
    target = reference if (reference.tag or reference.digest) else reference.with_tag("latest")
    for blob in list(manifest.layers) + [manifest.config]:
        if not store.content.exists(blob.digest):
            raise errors.FailedPrecondition(f"blob {blob.digest} is not in the content store")
        _report(progress, blob.digest, "pushing", 0, blob.size)
        result = client.push_blob(target, blob.to_dict(),
                                  lambda digest=blob.digest: store.content.open(digest))
        _report(progress, blob.digest, result or "done", blob.size, blob.size)
    digest = client.push_manifest(target, manifest.media_type, data)
    if digest and digest != image.manifest_digest:
        raise errors.Internal(f"the registry stored the manifest as {digest}, "
                              f"expected {image.manifest_digest}")
    return image.manifest_digest


def _report(progress, digest: str, action: str, current: int, total: int) -> None:
    if progress is not None:
        from hull.images.image import ProgressEvent

        progress(ProgressEvent(digest, action, current, total))
