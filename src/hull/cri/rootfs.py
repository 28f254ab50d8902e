"""Container root filesystems and image volumes from the image store."""

from __future__ import annotations

import contextlib
import logging
import os

from hull._generated import api_pb2 as api
from hull.cri.model import Container
from hull.cri.oci_spec import bind_mount
from hull.errors import HullError, NotFound

log = logging.getLogger("hull.cri")


def lookup_image(d, ref: str, verb: str):
    if not ref:
        from hull.errors import InvalidArgument

        raise InvalidArgument(f"cannot {verb}: no image given")
    try:
        return d.images.get(ref)
    except NotFound as e:
        raise NotFound(f"cannot {verb}: image {ref!r} not found: pull it first") from e


def prepare(d, c: Container, image, stack: contextlib.ExitStack) -> str:
    """Mount the container's writable rootfs at <bundle>/rootfs; undone by ``stack``."""
    target = os.path.join(d.container_dir(c.id), "rootfs")
    os.makedirs(target, exist_ok=True)
    d.images.prepare_rootfs(c.id, image.id)
    stack.callback(_quietly, d.images.remove_rootfs, c.id)
    d.images.mount_rootfs(c.id, target)
    stack.callback(_quietly, d.images.unmount_rootfs, target)
    c.extra.setdefault("rootfs_keys", []).append([c.id, target])
    return target


def image_volumes(d, c: Container, rro: bool, stack: contextlib.ExitStack) -> list[dict]:
    """Read-only mounts of the images named by ``Mount.image`` (image volumes KEP)."""
    found = []
    for index, m in enumerate(c.config.mounts):
        if not (m.HasField("image") and m.image.image):
            continue
        image = lookup_image(d, m.image.image, f"mount image volume at {m.container_path}")
        key = f"{c.id}-vol{index}"
        target = os.path.join(d.container_dir(c.id), "volumes", str(index))
        os.makedirs(target, exist_ok=True)
        d.images.prepare_rootfs(key, image.id, readonly=True)
        stack.callback(_quietly, d.images.remove_rootfs, key)
        d.images.mount_rootfs(key, target)
        stack.callback(_quietly, d.images.unmount_rootfs, target)
        c.extra.setdefault("rootfs_keys", []).append([key, target])
        source = target
        if m.image_sub_path:
            source = os.path.realpath(os.path.join(target, m.image_sub_path.lstrip("/")))
            if not source.startswith(target + "/") or not os.path.exists(source):
                raise NotFound(f"cannot mount image volume {m.image.image} at "
                               f"{m.container_path}: sub path {m.image_sub_path} not in image")
        readonly = api.Mount()
        readonly.CopyFrom(m)
        readonly.readonly = True
        found.append(bind_mount(readonly, source, rro))
    return found


def unmount_all(d, c: Container) -> None:
    """Unmount the container's rootfs and image volumes; idempotent."""
    for _, target in reversed(c.extra.get("rootfs_keys") or _all_possible_keys(d, c)):
        _quietly(d.images.unmount_rootfs, target)


def release(d, c: Container) -> None:
    """Unmount and remove every rootfs the container took; idempotent."""
    keys = c.extra.get("rootfs_keys") or _all_possible_keys(d, c)
    for key, target in reversed(keys):
        _quietly(d.images.unmount_rootfs, target)
        _quietly(d.images.remove_rootfs, key)


def _all_possible_keys(d, c: Container) -> list[list[str]]:
    """What a container interrupted mid-create may have taken (its record has no list)."""
    bundle = d.container_dir(c.id)
    keys = [[c.id, os.path.join(bundle, "rootfs")]]
    for index, m in enumerate(c.config.mounts):
        if m.HasField("image") and m.image.image:
            keys.append([f"{c.id}-vol{index}", os.path.join(bundle, "volumes", str(index))])
    return keys


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except (HullError, OSError) as e:
        if not isinstance(e, (NotFound, FileNotFoundError)):
            log.warning("cleanup %s%s failed: %s", getattr(fn, "__name__", fn), args, e)
