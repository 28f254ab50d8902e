"""OCI image layout import and export, as a directory or a tar of one.

Export writes ``oci-layout``, ``blobs/<alg>/<hex>`` and ``index.json`` with
``org.opencontainers.image.ref.name`` set to the tag, the way skopeo's
``oci:DIR:TAG`` and umoci's ``DIR:TAG`` name images; an existing layout is
added to (the entry with the same tag replaced), and index.json is written
last, atomically, so a reader never sees an entry without its blobs.

Import copies each manifest's blobs into the content store (each verified
against its digest and size), unpacks the layers, and names the image by
the caller's NAME, a full reference in ref.name, or
``localhost/<layout dir>:<ref.name>`` as podman does for local images.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from hull import errors
from hull.images.build import ARCH
from hull.images.layers import ensure_layer
from hull.spec import image as spec

HOST_PLATFORM = f"linux/{ARCH}"


def _blob_path(layout: Path, digest: str) -> Path:
    if not spec.valid_digest(digest):
        raise errors.InvalidArgument(f"invalid digest {digest!r} in the layout")
    algorithm, hexpart = digest.split(":", 1)
    return layout / "blobs" / algorithm / hexpart


def _read_verified(layout: Path, desc: spec.Descriptor, limit: int = 16 << 20) -> bytes:
    path = _blob_path(layout, desc.digest)
    try:
        if path.stat().st_size > limit:
            raise errors.InvalidArgument(f"blob {desc.digest} is too large for a manifest/config")
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise errors.NotFound(f"blob {desc.digest} is missing from the layout") from e
    if len(data) != desc.size or spec.sha256_digest(data) != desc.digest:
        raise errors.InvalidArgument(f"blob {desc.digest} in the layout does not match "
                                     "its digest or size")
    return data


def _parse(fn, data: bytes, media_type: str = ""):
    try:
        return fn(data, media_type)
    except ValueError as e:
        raise errors.InvalidArgument(str(e)) from e


# --- import --------------------------------------------------------------------

def _manifests(layout: Path, desc: spec.Descriptor, platform: str, depth: int = 0):
    """Yield (descriptor, bytes) of the image manifests an index entry leads to."""
    data = _read_verified(layout, desc)
    media_type = spec.detect_media_type(data, desc.media_type)
    if media_type in spec.INDEX_TYPES:
        if depth > 3:
            raise errors.InvalidArgument("image indexes nest too deep")
        index = _parse(spec.parse_index, data, media_type)
        chosen = _parse(lambda d, m: spec.select_manifest(index, platform), data)
        yield from _manifests(layout, chosen, platform, depth + 1)
        return
    yield spec.Descriptor(media_type, desc.digest, desc.size, desc.annotations), data


def _names_for(layout: Path, name: str | None, ref_name: str | None, many: bool) -> list:
    from hull.registry.reference import parse

    if name:
        reference = parse(name)
        tag = reference.tag or (ref_name if many and ref_name and ":" not in ref_name else None)
        return [(f"{reference.name}:{tag or 'latest'}", "tag")]
    if not ref_name:
        return []
    if "/" in ref_name or ":" in ref_name:
        with_tag = parse(ref_name)
        return [(f"{with_tag.name}:{with_tag.tag or 'latest'}", "tag")]
    repo = re.sub(r"[^a-z0-9._-]+", "-", layout.name.lower()).strip("-._") or "image"
    return [(f"localhost/{repo}:{ref_name}", "tag")]


def _import_one(store, layout: Path, desc: spec.Descriptor, data: bytes, names: list):
    manifest = _parse(spec.parse_manifest, data, desc.media_type)
    config_bytes = _read_verified(layout, manifest.config)
    config = _parse(lambda d, m: spec.parse_config(d), config_bytes)
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(manifest.layers):
        raise errors.InvalidArgument("the config's diff_ids do not match the manifest's layers")
    for layer in manifest.layers:
        try:
            with open(_blob_path(layout, layer.digest), "rb") as f:
                store.content.import_file(f, layer.digest, layer.size)
        except FileNotFoundError as e:
            raise errors.NotFound(f"layer {layer.digest} is missing from the layout") from e
    store.content.write_bytes(config_bytes, manifest.config.digest)
    store.content.write_bytes(data, desc.digest)
    chain_ids = spec.chain_ids(diff_ids)
    ctx = store.layer_context()
    for i, layer in enumerate(manifest.layers):
        ensure_layer(ctx, layer, diff_ids[i], chain_ids[i], chain_ids[i - 1] if i else None, None)
    return store.record_image(manifest_digest=desc.digest, manifest_media_type=manifest.media_type,
                              config=config, config_descriptor=manifest.config,
                              layers=list(manifest.layers), chain_ids=chain_ids, names=names,
                              manifest_size=len(data))


def _extract_tar(source: Path, into: Path) -> None:
    try:
        with tarfile.open(source) as tar:
            tar.extractall(into, filter="data")
    except tarfile.TarError as e:
        raise errors.InvalidArgument(f"{source} is not a readable OCI layout tar: {e}") from e
    except OSError as e:  # disk full, permissions: not the tar's fault
        raise errors.from_oserror(e, f"cannot extract {source}") from e


def import_layout(store, source: Path, name: str | None, platform: str = HOST_PLATFORM):
    if source.is_file():
        with tempfile.TemporaryDirectory(prefix="import-", dir=store.root) as tmp:
            _extract_tar(source, Path(tmp))
            layout = Path(tmp)
            return _import_dir(store, layout, name, platform, display=source)
    return _import_dir(store, source, name, platform, display=source)


def _import_dir(store, layout: Path, name: str | None, platform: str, display: Path):
    try:
        index = json.loads((layout / "index.json").read_bytes())
        layout_version = json.loads((layout / "oci-layout").read_bytes())
    except FileNotFoundError as e:
        raise errors.NotFound(f"{display} is not an OCI layout: {e.filename} is missing") from e
    except ValueError as e:
        raise errors.InvalidArgument(f"{display}: invalid JSON: {e}") from e
    if layout_version.get("imageLayoutVersion") != spec.OCI_LAYOUT_VERSION:
        raise errors.InvalidArgument(f"{display}: unsupported imageLayoutVersion")
    entries = [spec.Descriptor.from_dict(m, "index.json entry") for m in index.get("manifests", [])]
    if not entries:
        raise errors.NotFound(f"{display} holds no images")
    images = []
    for entry in entries:
        ref_name = entry.annotations.get(spec.ANNOTATION_REF_NAME)
        names = _names_for(display if display.is_dir() else Path(display.stem), name,
                           ref_name, len(entries) > 1)
        for desc, data in _manifests(layout, entry, platform):
            images.append(_import_one(store, layout, desc, data, names))
    return images


# --- export --------------------------------------------------------------------

def _layout_files(store, image, tag: str) -> tuple[list[str], dict]:
    data = store.content.read(image.manifest_digest)
    manifest = _parse(spec.parse_manifest, data, image.manifest_media_type)
    digests = [image.manifest_digest, manifest.config.digest] + [l.digest for l in manifest.layers]
    entry = {"mediaType": manifest.media_type, "digest": image.manifest_digest, "size": len(data),
             "annotations": {spec.ANNOTATION_REF_NAME: tag}}
    return digests, entry


def _merged_index(existing: Path, entry: dict, tag: str) -> dict:
    index = {"schemaVersion": 2, "mediaType": spec.OCI_INDEX, "manifests": []}
    if existing.exists():
        index = json.loads(existing.read_bytes())
    index["manifests"] = [m for m in index.get("manifests", [])
                          if (m.get("annotations") or {}).get(spec.ANNOTATION_REF_NAME) != tag]
    index["manifests"].append(entry)
    return index


def _default_tag(image) -> str:
    for name in image.repo_tags:
        return name.rsplit(":", 1)[1]
    return "latest"


def export_layout(store, image, destination: Path, tag: str | None) -> None:
    tag = tag or _default_tag(image)
    digests, entry = _layout_files(store, image, tag)
    if destination.suffix == ".tar" or str(destination) == "-":
        _export_tar(store, digests, entry, tag, destination)
        return
    destination.mkdir(parents=True, exist_ok=True)
    (destination / "oci-layout").write_text(json.dumps({"imageLayoutVersion": spec.OCI_LAYOUT_VERSION}))
    for digest in digests:
        target = _blob_path(destination, digest)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        try:
            os.link(store.content.path(digest), tmp)  # same filesystem: no copy
        except OSError:
            shutil.copyfile(store.content.path(digest), tmp)
        os.rename(tmp, target)
    index = _merged_index(destination / "index.json", entry, tag)
    tmp = destination / "index.json.tmp"
    tmp.write_text(json.dumps(index))
    os.rename(tmp, destination / "index.json")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _export_tar(store, digests: list[str], entry: dict, tag: str, destination: Path) -> None:
    import sys

    index = {"schemaVersion": 2, "mediaType": spec.OCI_INDEX, "manifests": [entry]}
    if str(destination) == "-":
        out, tmp = sys.stdout.buffer, None
    else:
        tmp = destination.with_name(destination.name + ".tmp")
        out = open(tmp, "wb")
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "oci-layout",
                       json.dumps({"imageLayoutVersion": spec.OCI_LAYOUT_VERSION}).encode())
            for digest in dict.fromkeys(digests):
                algorithm, hexpart = digest.split(":", 1)
                path = store.content.path(digest)
                info = tar.gettarinfo(str(path), f"blobs/{algorithm}/{hexpart}")
                info.mode, info.uid, info.gid, info.uname, info.gname = 0o644, 0, 0, "", ""
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            _add_bytes(tar, "index.json", json.dumps(index).encode())
        if tmp is not None:
            out.close()
            os.rename(tmp, destination)
    except BaseException:
        if tmp is not None:
            out.close()
            tmp.unlink(missing_ok=True)
        raise
