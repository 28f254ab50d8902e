"""Build an image from directories, one layer each, without any network.

Each directory is written as a PAX tar (ownership, modes, mtimes, hard
links, xattrs kept), gzip-compressed in the same pass while both the
uncompressed (diff ID) and compressed (blob) digests are computed; the
blob is committed to the content store, and the layer is unpacked into its
snapshot by the same code path a pull uses.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import tarfile
import zlib
from pathlib import Path

from hull import errors
from hull.images.layers import ensure_layer
from hull.spec import image as spec

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
        "s390x": "s390x"}.get(platform.machine(), platform.machine())


class _GzipHashingFile:
    """A write-only file: hashes the tar, gzips it, hashes and stores the gzip."""

    def __init__(self, out, level: int = 6):
        self.out = out
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.size = 0
        self._z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.blob.update(data)
            self.size += len(data)

    def write(self, data: bytes) -> int:
        self.diff.update(data)
        self._emit(self._z.compress(data))
        return len(data)

    def finish(self) -> None:
        self._emit(self._z.flush())


def _tarinfo(tar: tarfile.TarFile, path: Path, arcname: str) -> tarfile.TarInfo:
    info = tar.gettarinfo(str(path), arcname)
    info.uname = info.gname = ""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        names = []
    for name in names:
        if name.startswith(("trusted.overlay.", "user.overlay.")):
            continue
        value = os.getxattr(path, name, follow_symlinks=False)
        info.pax_headers["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return info


def write_layer_tar(directory: Path, out) -> _GzipHashingFile:
    sink = _GzipHashingFile(out)
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tar:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            rel_root = Path(root).relative_to(directory)
            for name in sorted(dirs) + sorted(files):
                path = Path(root) / name
                arcname = str(rel_root / name) if str(rel_root) != "." else name
                info = _tarinfo(tar, path, arcname)
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    sink.finish()
    return sink


def _now() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_layer(store, directory: Path) -> tuple[spec.Descriptor, str]:
    """The directory as a committed gzip layer blob: (descriptor, diff ID)."""
    if not directory.is_dir():
        raise errors.NotFound(f"{directory} is not a directory")
    tmp = store.content.root / "ingest" / f"build-{os.getpid()}-{id(directory)}"
    try:
        with open(tmp, "wb") as out:
            sink = write_layer_tar(directory, out)
        digest = "sha256:" + sink.blob.hexdigest()
        with open(tmp, "rb") as f:
            store.content.import_file(f, digest, sink.size)
    finally:
        tmp.unlink(missing_ok=True)
    return spec.Descriptor(spec.OCI_LAYER_GZIP, digest, sink.size), "sha256:" + sink.diff.hexdigest()


def build_image(store, directory, name: str, config: dict):
    from hull.registry.reference import parse

    reference = parse(name)
    directories = [Path(d) for d in (directory if isinstance(directory, (list, tuple))
                                     else [directory])]
    built = [build_layer(store, d) for d in directories]
    layers = [layer for layer, _ in built]
    diff_ids = [diff for _, diff in built]
    created = _now()
    image_config = {
        "created": created, "architecture": ARCH, "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   **config},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": f"hull image build-rootfs {d}"}
                    for d in directories],
    }
    config_bytes = spec.canonical_json(image_config)
    config_digest = store.content.write_bytes(config_bytes)
    config_desc = spec.Descriptor(spec.OCI_CONFIG, config_digest, len(config_bytes))
    manifest = {"schemaVersion": 2, "mediaType": spec.OCI_MANIFEST,
                "config": config_desc.to_dict(), "layers": [layer.to_dict() for layer in layers]}
    manifest_bytes = spec.canonical_json(manifest)
    manifest_digest = store.content.write_bytes(manifest_bytes)
    chain_ids = spec.chain_ids(diff_ids)
    ctx = store.layer_context()
    for i, layer in enumerate(layers):
        ensure_layer(ctx, layer, diff_ids[i], chain_ids[i], chain_ids[i - 1] if i else None, None)
    names = [(f"{reference.name}:{reference.tag or 'latest'}", "tag")]
    return store.record_image(manifest_digest=manifest_digest, manifest_media_type=spec.OCI_MANIFEST,
                              config=image_config, config_descriptor=config_desc, layers=layers,
                              chain_ids=chain_ids, names=names,
                              manifest_size=len(manifest_bytes))
