"""Bad input gives one clear line naming the image and the cause; the store stays as it was."""

from __future__ import annotations

import json
import subprocess

import pytest

from hull import errors
from hull.images import ImageStore
from hull.registry.config import RegistryConfig
from hull.registry.credentials import Credentials
from hull.sys import libc
from hull.testing import registry as kit

from .conftest import hull, layer_tar, make_layout

pytestmark = pytest.mark.root


def state(store: ImageStore):
    return (sorted(i.id for i in store.list()), sorted(store.content.list()),
            sorted(store.dirs.ids_on_disk()))


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs: big enough for the store, too small for the 6 MB layer."""
    target = tmp_path / "tiny"
    target.mkdir()
    libc.mount("tmpfs", str(target), "tmpfs", 0, "size=3m")
    try:
        yield target
    finally:
        libc.umount(str(target), libc.MNT_DETACH)


def test_disk_full_is_resource_exhausted(tiny_disk, pushed):
    store = ImageStore(tiny_disk / "store")
    with pytest.raises(errors.ResourceExhausted) as info:
        store.pull(pushed)
    assert str(info.value).startswith(f"cannot pull image {pushed}:")
    assert store.list() == []
    assert store.meta.query("SELECT key FROM snapshots WHERE kind = 'pending'") == []


def test_unsupported_layer_media_type(store, tmp_path):
    layout = make_layout(tmp_path / "odd", [(layer_tar([("f", "file", "x")]), "gzip")])
    index = json.loads((layout / "index.json").read_text())
    manifest_path = layout / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(manifest_path.read_text())
    manifest["layers"][0]["mediaType"] = "application/vnd.example.layer.v1.tar+bzip2"
    data = json.dumps(manifest).encode()
    import hashlib
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    index["manifests"][0].update(digest=f"sha256:{digest}", size=len(data))
    (layout / "index.json").write_text(json.dumps(index))
    before = state(store)
    with pytest.raises(errors.InvalidArgument, match="unsupported layer media type"):
        store.import_layout(layout, "example.com/odd:1")
    assert state(store) == before


def test_diff_id_mismatch(store, tmp_path):
    layout = make_layout(tmp_path / "lie", [(layer_tar([("f", "file", "x")]), "gzip")])
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" /
                           index["manifests"][0]["digest"].split(":")[1]).read_text())
    config_path = layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]
    config = json.loads(config_path.read_text())
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    new_config = json.dumps(config).encode()
    import hashlib
    config_digest = hashlib.sha256(new_config).hexdigest()
    (layout / "blobs/sha256" / config_digest).write_bytes(new_config)
    manifest["config"].update(digest=f"sha256:{config_digest}", size=len(new_config))
    data = json.dumps(manifest).encode()
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    index["manifests"][0].update(digest=f"sha256:{digest}", size=len(data))
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(errors.InvalidArgument, match="diff_id mismatch"):
        store.import_layout(layout, "example.com/lie:1")
    assert store.list() == [] and store.dirs.ids_on_disk() == set()


@pytest.fixture(scope="module")
def secure_registry(source_layout):
    server = kit.RegistryServer(tls=True, users={"hull": "s3cret"}).start()
    try:
        kit.push_image(source_layout, "v1", f"{server.host}/hull-images/private:v1",
                       registry=server, creds="hull:s3cret")
        yield server
    finally:
        server.stop()


def test_tls_and_basic_auth(tmp_path, secure_registry):
    config = RegistryConfig.load(None,
                                 certs_dir=secure_registry.certs_dir, auth_files=[])
    store = ImageStore(tmp_path / "s", registry_config=config)
    ref = f"{secure_registry.host}/hull-images/private:v1"
    with pytest.raises(errors.PermissionDenied) as info:
        store.pull(ref, credentials=Credentials("hull", "wrong"))
    assert str(info.value).startswith(f"cannot pull image {ref}:")
    assert store.list() == []
    image = store.pull(ref, credentials=Credentials("hull", "s3cret"))
    assert len(image.chain_ids) == 3


def test_cli_auth_failure_exit_code(tmp_path, secure_registry):
    ref = f"{secure_registry.host}/hull-images/private:v1"
    result = hull(tmp_path / "s", "pull", "--creds", "hull:nope", "--certs-dir",
                  str(secure_registry.certs_dir), ref)
    assert result.returncode == 7, result.stderr
    assert result.stderr.startswith(f"hull: cannot pull image {ref}:")
    assert len(result.stderr.strip().splitlines()) == 1
