"""OCI layouts cross between hull, skopeo and umoci both ways, and the result runs
(chroot, and `runc run` with the spec hull derives from the image config)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

from hull.images import ImageStore
from hull.testing import registry as kit

from .conftest import chroot, mounted

pytestmark = pytest.mark.root


def run(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


def test_umoci_image_imported_by_hull_runs(store, source_layout, tmp_path):
    [image] = store.import_layout(source_layout)
    assert image.repo_tags == ["localhost/layout:v1"]
    store.prepare_rootfs("hull-images-umoci", image.id)
    with mounted(store, "hull-images-umoci", tmp_path / "mnt") as root:
        assert "tag=v1" in chroot(root, "/bin/cat", "/etc/hull-image")
    store.remove_rootfs("hull-images-umoci")


def test_hull_export_unpacked_by_umoci_runs(store, source_layout, tmp_path):
    [image] = store.import_layout(source_layout, "example.com/x:v1")
    store.export_layout(image.id, tmp_path / "out", tag="exported")
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--image", f"{tmp_path / 'out'}:exported", str(bundle))
    assert "marker=hull-images" in chroot(bundle / "rootfs", "/bin/cat", "/etc/hull-image")
    assert not (bundle / "rootfs/etc/hostname").exists()


def test_skopeo_copies_hull_export_and_hull_imports_skopeos(store, source_layout, tmp_path):
    [image] = store.import_layout(source_layout, "example.com/x:v1")
    store.export_layout(image.id, tmp_path / "hull.tar")
    run("skopeo", "copy", "--insecure-policy", f"oci-archive:{tmp_path / 'hull.tar'}:v1",
        f"oci:{tmp_path / 'by-skopeo'}:again")
    other = ImageStore(tmp_path / "other")
    [again] = other.import_layout(tmp_path / "by-skopeo", "example.com/y:again")
    assert again.id == image.id and again.chain_ids == image.chain_ids


def test_push_by_hull_pulled_by_skopeo_and_back(store, registry, source_layout, tmp_path):
    [image] = store.import_layout(source_layout, f"{registry.host}/hull-images/pushed:1")
    digest = store.push(f"{registry.host}/hull-images/pushed:1")
    assert digest == image.manifest_digest
    run("skopeo", "copy", "--insecure-policy", "--src-tls-verify=false",
        f"docker://{registry.host}/hull-images/pushed:1", f"oci:{tmp_path / 'fromreg'}:1")
    assert json.loads((tmp_path / "fromreg/index.json").read_text())["manifests"][0]["digest"] \
        == digest
    other = ImageStore(tmp_path / "other")
    pulled = other.pull(f"{registry.host}/hull-images/pushed:1")
    assert pulled.id == image.id


def test_runc_runs_the_spec_hull_derives(store, source_layout, tmp_path):
    [image] = store.import_layout(source_layout, "example.com/runc:v1")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    run("runc", "spec", "--bundle", str(bundle))
    base = json.loads((bundle / "config.json").read_text())
    base["process"]["terminal"] = False
    base["process"]["args"] = ["/bin/sh", "-c", "id -u; echo $HULL_IMAGE; cat /etc/hull-image"]
    base["process"].pop("user", None)
    spec = store.runtime_spec(image, base=base)
    spec["root"] = {"path": str(bundle / "rootfs"), "readonly": False}
    (bundle / "config.json").write_text(json.dumps(spec))
    store.prepare_rootfs("hull-images-runc", image.id)
    name = f"hull-images-{uuid.uuid4().hex[:8]}"
    with mounted(store, "hull-images-runc", bundle / "rootfs"):
        try:
            out = run("runc", "run", "--bundle", str(bundle), name)
        finally:
            subprocess.run(["runc", "delete", "--force", name], capture_output=True)
    assert out.splitlines()[:2] == ["0", "v1"]
    assert "marker=hull-images" in out
    store.remove_rootfs("hull-images-runc")


def test_build_rootfs_from_busybox_runs(tmp_path):
    from hull.testing.busybox import make_rootfs

    from .conftest import hull

    rootfs = make_rootfs(tmp_path / "bb")
    result = hull(tmp_path / "s", "image", "build-rootfs", str(rootfs), "hull-demo/busybox:1",
                  "--cmd", "echo built", "--user", "hull", "--workdir", "/home/hull")
    assert result.returncode == 0, result.stderr
    store = ImageStore(tmp_path / "s")
    image = store.get("hull-demo/busybox:1")
    assert store.runtime_spec(image)["process"]["user"]["uid"] == 1000
    store.prepare_rootfs("hull-images-built", image.id)
    with mounted(store, "hull-images-built", tmp_path / "mnt") as root:
        assert chroot(root, *image.config["config"]["Cmd"]) == "built\n"
        assert os.stat(root / "home/hull").st_uid == 1000
    store.remove_rootfs("hull-images-built")
