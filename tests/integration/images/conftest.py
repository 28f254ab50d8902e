"""Fixtures for image integration tests: a real registry, images pushed with skopeo,
stores, and mounts that are always unmounted."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from hull.images import ImageStore
from hull.testing import registry as kit

BIG_LAYER = 6_000_000


@pytest.fixture(scope="module")
def registry():
    server = kit.RegistryServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def source_layout(tmp_path_factory) -> Path:
    """A 3-layer busybox image made by umoci (layer 2 whites out /etc/hostname)."""
    layout = tmp_path_factory.mktemp("hull-images-layout") / "layout"
    kit.build_image(layout, "v1", big_layer_bytes=BIG_LAYER, marker="hull-images")
    return layout


@pytest.fixture(scope="module")
def pushed(registry, source_layout) -> str:
    ref = f"{registry.host}/hull-images/busybox:v1"
    kit.push_image(source_layout, "v1", ref, registry=registry)
    return ref


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore(tmp_path / "store")


@contextlib.contextmanager
def mounted(store: ImageStore, key: str, target: Path):
    target.mkdir(parents=True, exist_ok=True)
    store.mount_rootfs(key, str(target))
    try:
        yield target
    finally:
        store.unmount_rootfs(str(target))


def chroot(root: Path, *command: str) -> str:
    result = subprocess.run(["chroot", str(root), *command], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def hull(root: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([sys.executable, "-m", "hull.cli.main", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120, **kw)


# --- hand-made layouts --------------------------------------------------------

def layer_tar(entries) -> bytes:
    """entries: (name, kind, payload) with kind file|dir|symlink|whiteout-file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tar.addfile(info)
            else:
                data = payload.encode() if isinstance(payload, str) else payload
                info.size, info.mode = len(data), 0o755 if kind == "exec" else 0o644
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


COMPRESSORS = {
    "gzip": ("application/vnd.oci.image.layer.v1.tar+gzip", gzip.compress),
    "zstd": ("application/vnd.oci.image.layer.v1.tar+zstd",
             lambda d: zstandard.ZstdCompressor().compress(d)),
    "": ("application/vnd.oci.image.layer.v1.tar", lambda d: d),
}


def _put(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs/sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def make_layout(layout: Path, layers: list[tuple[bytes, str]], tag: str = "t",
                config: dict | None = None) -> Path:
    """An OCI layout of the given (uncompressed tar, compression) layers."""
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descriptors, diff_ids = [], []
    for tar_data, compression in layers:
        media_type, compress = COMPRESSORS[compression]
        descriptors.append({"mediaType": media_type, **_put(layout, compress(tar_data))})
        diff_ids.append("sha256:" + hashlib.sha256(tar_data).hexdigest())
    image_config = {"architecture": "amd64", "os": "linux", "config": config or {"Cmd": ["/bin/sh"]},
                    "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **_put(layout, json.dumps(image_config).encode())}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": descriptors}
    manifest_desc = {"mediaType": manifest["mediaType"], **_put(layout, json.dumps(manifest).encode()),
                     "annotations": {"org.opencontainers.image.ref.name": tag}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}))
    return layout


def busybox_tar() -> bytes:
    """The busybox root filesystem as one uncompressed layer tar."""
    import tempfile

    from hull.testing.busybox import make_rootfs

    with tempfile.TemporaryDirectory(prefix="hull-images-bb-") as tmp:
        root = make_rootfs(Path(tmp) / "rootfs")
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for entry in sorted(root.iterdir()):
                tar.add(entry, arcname=entry.name)
        return out.getvalue()


@pytest.fixture(scope="session")
def busybox_layer() -> bytes:
    return busybox_tar()


