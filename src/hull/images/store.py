"""ImageStore: the one facade the CLI, the CRI server and hull play use.

Layout under ``root`` (default /var/lib/hull)::

    content/       blobs (hull.content)
    snapshots/     layer and container snapshot dirs (hull.snapshots)
    images.db      metadata (hull.images.metadata)
    locks/         per-chain-ID unpack locks
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
import threading
from pathlib import Path

from hull import errors
from hull.content import ContentStore
from hull.images import gc as gc_module
from hull.images.image import GcReport, Image
from hull.images.layers import (LayerContext, boot_id, ensure_layer, fix_layer_chain,
                               snapshot_ready)
from hull.images.metadata import Metadata
from hull.images.runtime_spec import image_runtime_spec
from hull.snapshots import Snapshot, SnapshotDirs, overlay
from hull.spec import image as spec

log = logging.getLogger(__name__)

_HEX = re.compile(r"^(sha256:)?([a-f0-9]{4,64})$")


@contextlib.contextmanager
def failing(what: str):
    """Give every error one line that starts with what we were doing."""
    try:
        yield
    except errors.HullError as e:
        if str(e).startswith(what):
            raise
        raise type(e)(f"{what}: {e}") from e
    except OSError as e:
        raise errors.from_oserror(e, what) from e
    except sqlite3.Error as e:
        full = "full" in str(e)  # SQLITE_FULL: "database or disk is full"
        category = errors.ResourceExhausted if full else errors.Internal
        raise category(f"{what}: image metadata: {e}") from e


def _ref(text: str):
    from hull.registry.reference import parse

    return parse(text)


class ImageStore:
    def __init__(self, root: str | Path, registry_config=None, *,
                 allow_devices: bool | None = None):
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.content = ContentStore(self.root / "content")
            self.dirs = SnapshotDirs(self.root / "snapshots")
            self.meta = Metadata(self.root / "images.db")
        except OSError as e:
            raise errors.from_oserror(e, f"cannot open image store {self.root}") from e
        self.registry_config = registry_config
        self.allow_devices = allow_devices  # device nodes in layers; default: only as root
        self._gc_lock = threading.Lock()
        self._recover()

    # -- durability ------------------------------------------------------------------

    def _recover(self) -> None:
        """Drop layer snapshots committed without a sync in an earlier boot.

        Layers are not synced when unpacked (containerd does not either): their
        rows carry the boot they were written in until ``sync`` runs. A process
        crash loses nothing (the page cache stays); a machine crash may, so after
        a reboot such layers are removed and unpacked again from their blobs,
        which are fsynced, the next time an image needs them.
        """
        current = boot_id()
        stale = [row for row in self.meta.unsynced_snapshots() if row["unsynced_boot"] != current]
        for row in stale:
            if self.meta.delete_stale_snapshot(row["key"], row["id"], row["unsynced_boot"]):
                log.warning("layer snapshot %s was not synced before a reboot: it will be "
                            "unpacked again", row["key"])
                self.dirs.remove(row["id"])

    def sync(self) -> None:
        """Make every unpacked layer durable; called by GC, and by hulld now and then."""
        if self.meta.unsynced_snapshots():
            self.dirs.sync()
            self.meta.mark_synced(boot_id())

    def ensure_layers(self, image: Image) -> None:
        """Unpack (again, from the content store) any layer snapshot of ``image`` missing."""
        ctx = self.layer_context()
        if all(snapshot_ready(ctx, chain_id) for chain_id in image.chain_ids):
            return
        from hull.images.push import image_manifest

        _, manifest = image_manifest(self, image)
        diff_ids = image.config["rootfs"]["diff_ids"]
        for i, layer in enumerate(manifest.layers):
            if not self.content.exists(layer.digest):
                raise errors.NotFound(f"layer {layer.digest} is gone from the content store: "
                                      "pull the image again")
            ensure_layer(ctx, layer, diff_ids[i], image.chain_ids[i],
                         image.chain_ids[i - 1] if i else None, None)
        fix_layer_chain(ctx, image.chain_ids)

    # -- plumbing shared by pull/import/build -------------------------------------

    def layer_context(self, progress=None, cancel=None) -> LayerContext:
        ctx = LayerContext(self.content, self.dirs, self.meta, self.root / "locks",
                           progress, cancel)
        if self.allow_devices is not None:
            ctx.allow_devices = self.allow_devices
        return ctx

    def content_blob(self, descriptor: spec.Descriptor, fetch) -> bytes:
        """A small blob (config, manifest) from the store, else fetched and committed;
        under the blob's lock, so concurrent pulls fetch it once."""
        with self.content.writer(descriptor.digest, descriptor.size) as writer:
            if writer is None:
                return self.content.read(descriptor.digest)
            data = fetch(descriptor)
            writer.discard()
            writer.write(data)
            writer.commit()
            return data

    def record_image(self, *, manifest_digest: str, manifest_media_type: str, config: dict,
                     config_descriptor: spec.Descriptor, layers: list[spec.Descriptor],
                     chain_ids: list[str], names: list[tuple[str, str]],
                     index_digest: str | None = None, manifest_size: int = 0) -> Image:
        image_id = config_descriptor.digest
        blobs = {config_descriptor.digest: (config_descriptor.size, config_descriptor.media_type),
                 manifest_digest: (manifest_size or self.content.size(manifest_digest),
                                   manifest_media_type)}
        for layer in layers:
            blobs[layer.digest] = (layer.size, layer.media_type)
        if index_digest and self.content.exists(index_digest):
            blobs[index_digest] = (self.content.size(index_digest), spec.OCI_INDEX)
        fix_layer_chain(self.layer_context(), chain_ids)
        size = config_descriptor.size + sum(layer.size for layer in layers)
        self.meta.put_image(image_id=image_id, manifest_digest=manifest_digest,
                            manifest_media_type=manifest_media_type, index_digest=index_digest,
                            size=size, created=config.get("created"), chain_ids=chain_ids,
                            blobs=blobs, names=names)
        return self._image(image_id)

    def registry_client(self, credentials=None, platform: str | None = None):
        from hull.registry.client import RegistryClient
        from hull.registry.config import RegistryConfig

        if self.registry_config is None:
            self.registry_config = RegistryConfig.load()
        return RegistryClient(self.registry_config, credentials=credentials,
                              platform=platform)  # None: the host's platform

    # -- images -----------------------------------------------------------------------

    def pull(self, ref: str, *, credentials=None, platform: str | None = None,
             progress=None) -> Image:
        from hull.images.pull import run_pull

        with failing(f"cannot pull image {ref}"):
            reference = _ref(ref)
            client = self.registry_client(credentials, platform)
            with gc_module.lease(self.root):
                resolved, config, chain_ids = run_pull(self, reference, client, progress)
                return self._record_pull(reference, resolved, config, chain_ids)

    def _record_pull(self, reference, resolved, config, chain_ids) -> Image:
        # the index digest names the image when there is one (as containerd's repoDigests);
        # the platform manifest's digest too, so it stays addressable after another
        # platform's pull moves the index name
        names = [(f"{reference.name}@{resolved.manifest_digest}", "digest")]
        if resolved.index_digest:
            names.insert(0, (f"{reference.name}@{resolved.index_digest}", "digest"))
        if reference.tag:
            names.append((f"{reference.name}:{reference.tag}", "tag"))
        return self.record_image(
            manifest_digest=resolved.manifest_digest, manifest_media_type=resolved.media_type,
            config=config, config_descriptor=resolved.config, layers=resolved.layers,
            chain_ids=chain_ids, names=names, index_digest=resolved.index_digest,
            manifest_size=len(resolved.manifest_bytes))

    def push(self, ref_or_id: str, destination: str | None = None, *, credentials=None,
             progress=None) -> str:
        from hull.images.push import push_image

        target = destination or ref_or_id
        with failing(f"cannot push image {target}"):
            image = self.get(ref_or_id)
            client = self.registry_client(credentials)
            return push_image(self, image, _ref(target), client, progress)

    def _resolve_id(self, text: str) -> str:
        text = text.strip()
        if self.meta.image(text):
            return text
        if self.meta.image("sha256:" + text):
            return "sha256:" + text
        try:
            reference = _ref(text)
        except errors.HullError:
            reference = None
        if reference is not None:
            name = (f"{reference.name}@{reference.digest}" if reference.digest
                    else f"{reference.name}:{reference.tag or 'latest'}")
            image_id = self.meta.image_by_name(name)
            if image_id:
                return image_id
        match = _HEX.match(text)
        if match:
            candidates = self.meta.images_by_prefix("sha256:" + match.group(2))
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                raise errors.InvalidArgument(f"cannot find image {text}: ambiguous id prefix")
        raise errors.NotFound(f"cannot find image {text}: no such image")

    def _image(self, image_id: str) -> Image:
        row = self.meta.image(image_id)
        if row is None:
            raise errors.NotFound(f"cannot find image {image_id}: no such image")
        names = self.meta.names_of(image_id)
        config = json.loads(self.content.read(image_id))
        return Image(id=image_id,
                     repo_tags=[n["name"] for n in names if n["kind"] == "tag"],
                     repo_digests=[n["name"] for n in names if n["kind"] == "digest"],
                     size=row["size"], config=config, manifest_digest=row["manifest_digest"],
                     chain_ids=json.loads(row["chain_ids"]), created=row["created"],
                     manifest_media_type=row["manifest_media_type"],
                     index_digest=row["index_digest"])

    def get(self, ref_or_id: str) -> Image:
        return self._image(self._resolve_id(ref_or_id))

    def list(self) -> list[Image]:
        images = []
        for row in self.meta.images():
            with contextlib.suppress(errors.NotFound):
                images.append(self._image(row["id"]))
        return images

    def tag(self, image_id: str, ref: str) -> None:
        with failing(f"cannot tag image {image_id} as {ref}"):
            resolved = self._resolve_id(image_id)
            reference = _ref(ref)
            if reference.digest:
                raise errors.InvalidArgument("a tag cannot contain a digest")
            self.meta.tag(resolved, f"{reference.name}:{reference.tag or 'latest'}")

    def remove(self, ref_or_id: str, *, missing_ok: bool = False, prune: bool = True,
               all_names: bool = False) -> None:
        """Remove a name (docker rmi): the image goes with its last tag; by id, or with
        ``all_names`` (CRI RemoveImage: "remove the whole image"), it goes at once.

        ``missing_ok``: CRI's RemoveImage must succeed for an image that is gone.
        Blobs and snapshots are reclaimed by GC (``prune``), which spares anything
        a container snapshot still uses.
        """
        with failing(f"cannot remove image {ref_or_id}"):
            try:
                image_id = self._resolve_id(ref_or_id)
            except errors.NotFound:
                if missing_ok:
                    return
                raise
            name = self._resolve_name(ref_or_id)
            names = {n["name"]: n["kind"] for n in self.meta.names_of(image_id)}
            if all_names or name not in names:  # an id (or prefix) names the whole image
                self.meta.delete_image(image_id)
            else:
                self.meta.untag(name)
                if not any(kind == "tag" for n, kind in names.items() if n != name):
                    self.meta.delete_image(image_id)
            if prune:
                self.gc(wait=False)  # a pull in progress holds the lease: collect next time

    def _resolve_name(self, text: str) -> str | None:
        try:
            reference = _ref(text)
        except errors.HullError:
            return None
        if reference.digest:
            return f"{reference.name}@{reference.digest}"
        return f"{reference.name}:{reference.tag or 'latest'}"

    def usage(self) -> dict:
        rows = self.meta.query("SELECT COALESCE(SUM(size), 0), COALESCE(SUM(inodes), 0) "
                               "FROM snapshots WHERE kind = 'committed'")
        blob_bytes = self.content.used_bytes()
        return {"path": str(self.root), "used_bytes": blob_bytes + rows[0][0],
                "inodes_used": rows[0][1] + sum(1 for _ in self.content.list())}

    # -- snapshots for containers -------------------------------------------------

    def lowers(self, chain_ids: list[str]) -> list[str]:
        """Layer dirs of a chain, topmost first (overlay's lowerdir order)."""
        out = []
        for chain_id in reversed(chain_ids):
            row = self.meta.snapshot(chain_id)
            if row is None or row["kind"] != "committed":
                raise errors.FailedPrecondition(f"layer snapshot {chain_id} is missing")
            out.append(str(self.dirs.fs(row["id"])))
        return out

    def snapshot(self, key: str) -> Snapshot:
        row = self.meta.snapshot(key)
        if row is None:
            raise errors.NotFound(f"cannot find snapshot {key}: no such snapshot")
        if row["kind"] == "committed":
            chain = self._chain(key)
            return Snapshot(key, row["id"], "committed", row["parent"], self.lowers(chain))
        if row["image_id"] and row["parent"]:
            self._heal(row["image_id"])
        chain = self._chain(row["parent"]) if row["parent"] else []
        snap = Snapshot(key, row["id"], row["kind"], row["parent"], self.lowers(chain))
        if row["kind"] == "active":
            upper, work = self.dirs.create_active(row["id"])
            snap.upper, snap.work = str(upper), str(work)
        return snap

    def _heal(self, image_id: str) -> None:
        """Layers of a container's image dropped by _recover come back from the blobs."""
        try:
            image = self._image(image_id)
        except errors.NotFound:
            return  # image removed: its layers are kept by GC while the container lives
        if not all(snapshot_ready(self.layer_context(), c) for c in image.chain_ids):
            with gc_module.lease(self.root):
                self.ensure_layers(image)

    def _chain(self, chain_id: str) -> list[str]:
        """Keys from the bottom layer up to chain_id; every one must exist."""
        chain = []
        while chain_id:
            row = self.meta.snapshot(chain_id)
            if row is None:
                raise errors.FailedPrecondition(f"layer snapshot {chain_id} is missing")
            chain.append(chain_id)
            chain_id = row["parent"]
        return list(reversed(chain))

    def prepare_rootfs(self, key: str, image_ref_or_id: str, *, readonly: bool = False) -> Snapshot:
        with failing(f"cannot prepare rootfs {key}"):
            image = self.get(image_ref_or_id)
            existing = self.meta.snapshot(key)
            if existing is not None:
                if existing["parent"] == image.top_chain_id and existing["kind"] in ("active", "view"):
                    return self.snapshot(key)
                raise errors.AlreadyExists(f"snapshot {key} exists")
            if not image.chain_ids:
                raise errors.FailedPrecondition(f"image {image.id} has no layers")
            with gc_module.lease(self.root):
                self.ensure_layers(image)
                self.meta.reserve_snapshot(key, image.top_chain_id, None,
                                           "view" if readonly else "active", image.id)
                return self.snapshot(key)

    def mount_rootfs(self, key: str, target: str) -> None:
        with failing(f"cannot mount rootfs {key} at {target}"):
            overlay.mount(self.snapshot(key), target)

    def unmount_rootfs(self, target: str) -> None:
        overlay.unmount(target)

    def remove_rootfs(self, key: str) -> None:
        """Idempotent; the row goes first, so a crash leaves only a dir GC sweeps."""
        with failing(f"cannot remove rootfs {key}"):
            row = self.meta.snapshot(key)
            if row is None or row["kind"] == "committed":
                return
            if overlay.upper_in_use(str(self.dirs.fs(row["id"]))):
                raise errors.FailedPrecondition("it is still mounted: unmount it first")
            self.meta.delete_snapshot(key)
            self.dirs.remove(row["id"])

    # -- runtime spec ------------------------------------------------------------

    def runtime_spec(self, image: Image, *, base: dict | None = None) -> dict:
        with failing(f"cannot build runtime spec for image {image.id}"):
            return image_runtime_spec(image.config, self.lowers(image.chain_ids), base)

    # -- build, import, export, gc ----------------------------------------------

    def build_rootfs(self, directory, name: str, *, config: dict | None = None) -> Image:
        """An image from a directory (or a list of them, one layer each), no network."""
        from hull.images.build import build_image

        with failing(f"cannot build image {name} from {directory}"), gc_module.lease(self.root):
            return build_image(self, directory, name, config or {})

    def import_layout(self, source, name: str | None = None) -> list[Image]:
        from hull.images.layout import import_layout

        with failing(f"cannot import image from {source}"), gc_module.lease(self.root):
            return import_layout(self, Path(source), name)

    def export_layout(self, ref_or_id: str, destination, *, tag: str | None = None) -> None:
        from hull.images.layout import export_layout

        with failing(f"cannot export image {ref_or_id} to {destination}"):
            export_layout(self, self.get(ref_or_id), Path(destination), tag)

    def gc(self, *, in_use: set[str] = frozenset(), dangling: bool = False,
           wait: bool = True) -> GcReport:
        """Remove what no image, container snapshot or ``in_use`` entry references."""
        with failing("cannot collect garbage in the image store"), self._gc_lock:
            self.sync()
            return gc_module.collect(self, set(in_use), dangling=dangling, wait=wait)
