"""Layers unpacked for real and seen through overlay mounts: whiteouts, opaque dirs,
all three compressions, hostile layers refused, GC sparing mounted containers."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from hull import errors
from hull.images import ImageStore

from .conftest import chroot, layer_tar, make_layout, mounted

pytestmark = pytest.mark.root


@pytest.fixture
def layered(store, tmp_path, busybox_layer):
    """busybox (gzip) + a layer adding files (zstd) + a layer deleting some (uncompressed)."""
    second = layer_tar([("srv", "dir", None), ("srv/keep", "file", "old"),
                        ("srv/gone", "file", "bye"), ("data", "dir", None),
                        ("data/old-1", "file", "1"), ("data/old-2", "file", "2"),
                        ("etc/motd", "file", "hello from layer 2\n")])
    third = layer_tar([("srv/.wh.gone", "file", ""), ("data/.wh..wh..opq", "file", ""),
                       ("data/new", "file", "fresh"), ("etc/.wh.hostname", "file", ""),
                       ("srv/keep", "file", "new")])
    layout = make_layout(tmp_path / "layout", [(busybox_layer, "gzip"), (second, "zstd"),
                                               (third, "")])
    [image] = store.import_layout(layout, "example.com/layered:1")
    return image


def test_merged_view_applies_whiteouts_and_opaque_dirs(store, layered, tmp_path):
    store.prepare_rootfs("hull-images-ctr", layered.id)
    with mounted(store, "hull-images-ctr", tmp_path / "mnt") as root:
        assert (root / "srv/keep").read_text() == "new"
        assert not (root / "srv/gone").exists()
        assert sorted(os.listdir(root / "data")) == ["new"]
        assert not (root / "etc/hostname").exists()
        assert (root / "etc/passwd").exists()
        assert chroot(root, "/bin/cat", "/etc/motd") == "hello from layer 2\n"
        chroot(root, "/bin/sh", "-c", "echo written > /srv/by-container; rm /etc/motd")
        with pytest.raises(errors.FailedPrecondition, match="still mounted"):
            store.remove_rootfs("hull-images-ctr")
    upper = store.snapshot("hull-images-ctr").upper
    assert open(os.path.join(upper, "srv/by-container")).read() == "written\n"
    st = os.lstat(os.path.join(upper, "etc/motd"))
    assert st.st_rdev == 0  # overlay recorded the delete as a whiteout in the upper
    layer_fs = store.lowers(layered.chain_ids)[1]
    assert open(os.path.join(layer_fs, "etc/motd")).read() == "hello from layer 2\n"
    store.remove_rootfs("hull-images-ctr")


def test_readonly_view_cannot_be_written(store, layered, tmp_path):
    store.prepare_rootfs("hull-images-view", layered.id, readonly=True)
    with mounted(store, "hull-images-view", tmp_path / "view") as root:
        assert (root / "srv/keep").read_text() == "new"
        with pytest.raises(OSError):
            (root / "x").write_text("no")
    store.remove_rootfs("hull-images-view")


def test_runtime_spec_resolves_user_from_image_files(store, tmp_path, busybox_layer):
    layout = make_layout(tmp_path / "l", [(busybox_layer, "gzip")],
                         config={"Cmd": ["/bin/id"], "User": "hull", "WorkingDir": "/home/hull"})
    [image] = store.import_layout(layout, "example.com/user:1")
    process = store.runtime_spec(image)["process"]
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [100]}
    assert process["cwd"] == "/home/hull" and process["args"] == ["/bin/id"]


@pytest.mark.parametrize("entries,message", [
    ([("lib", "symlink", "/tmp"), ("lib/hull-images-owned", "file", "x")], "written through"),
    ([("../hull-images-owned", "file", "x")], "'..' component"),
])
def test_hostile_layer_is_refused_and_store_unchanged(store, tmp_path, busybox_layer,
                                                      entries, message):
    good = make_layout(tmp_path / "good", [(busybox_layer, "gzip")])
    store.import_layout(good, "example.com/good:1")
    before = (sorted(i.id for i in store.list()), sorted(store.content.list()),
              sorted(store.dirs.ids_on_disk()))
    bad = make_layout(tmp_path / "bad", [(busybox_layer, "gzip"), (layer_tar(entries), "gzip")])
    with pytest.raises(errors.InvalidArgument, match=message) as info:
        store.import_layout(bad, "example.com/bad:1")
    assert str(info.value).startswith("cannot import image from")
    assert not os.path.exists("/tmp/hull-images-owned")
    assert not (tmp_path / "hull-images-owned").exists()
    store.gc()
    after = (sorted(i.id for i in store.list()), sorted(store.content.list()),
             sorted(store.dirs.ids_on_disk()))
    assert after == before


def test_gc_never_removes_a_mounted_container_rootfs(store, layered, tmp_path):
    store.prepare_rootfs("hull-images-busy", layered.id)
    with mounted(store, "hull-images-busy", tmp_path / "busy") as root:
        store.remove(layered.id)
        report = store.gc()
        assert report.removed_snapshots == []
        assert store.list() == []
        assert chroot(root, "/bin/cat", "/srv/keep") == "new"
    store.remove_rootfs("hull-images-busy")
    report = store.gc()
    assert len(report.removed_snapshots) == 3
    assert store.dirs.ids_on_disk() == set()
    assert list(store.content.list()) == []


def test_many_layers_exceeding_one_page_of_mount_options(store, tmp_path, busybox_layer):
    layers = [(busybox_layer, "gzip")]
    layers += [(layer_tar([(f"layers/{i:03d}", "file", str(i))]), "") for i in range(90)]
    layout = make_layout(tmp_path / "tall", layers)
    [image] = store.import_layout(layout, "example.com/tall:1")
    snap = store.prepare_rootfs("hull-images-tall", image.id)
    assert len(",".join(snap.lowers)) > 4096  # mount(2) alone could not take it
    with mounted(store, "hull-images-tall", tmp_path / "tall-mnt") as root:
        assert sorted(os.listdir(root / "layers")) == [f"{i:03d}" for i in range(90)]
        assert chroot(root, "/bin/cat", "/layers/089") == "89"
    store.remove_rootfs("hull-images-tall")


def test_parent_dirs_without_entries_keep_the_lower_layers_metadata(store, tmp_path,
                                                                     busybox_layer):
    # layer 2 names tmp/new but has no "tmp/" entry: /tmp must stay 1777 in the merged view
    second = layer_tar([("tmp/new", "file", "x"), ("brand/new/dir/f", "file", "y")])
    layout = make_layout(tmp_path / "implied", [(busybox_layer, "gzip"), (second, "gzip")])
    [image] = store.import_layout(layout, "example.com/implied:1")
    store.prepare_rootfs("hull-images-implied", image.id)
    with mounted(store, "hull-images-implied", tmp_path / "implied-mnt") as root:
        assert oct((root / "tmp").stat().st_mode & 0o7777) == oct(0o1777)
        assert (root / "tmp/new").read_text() == "x"
        assert oct((root / "brand/new").stat().st_mode & 0o7777) == oct(0o755)
    store.remove_rootfs("hull-images-implied")


def test_device_nodes_policy(tmp_path, busybox_layer):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        null = tarfile.TarInfo("dev/hull-null")
        null.type, null.devmajor, null.devminor, null.mode = tarfile.CHRTYPE, 1, 3, 0o666
        tar.addfile(null)
    layout = make_layout(tmp_path / "dev", [(busybox_layer, "gzip"), (out.getvalue(), "gzip")])
    allowed = ImageStore(tmp_path / "allowed")
    [image] = allowed.import_layout(layout, "example.com/dev:1")
    node = os.lstat(os.path.join(allowed.lowers(image.chain_ids)[0], "dev/hull-null"))
    assert stat.S_ISCHR(node.st_mode) and node.st_rdev == os.makedev(1, 3)
    strict = ImageStore(tmp_path / "strict", allow_devices=False)
    with pytest.raises(errors.InvalidArgument, match="device node"):
        strict.import_layout(layout, "example.com/dev:1")


def test_readonly_view_of_a_single_layer_image(store, tmp_path, busybox_layer):
    layout = make_layout(tmp_path / "one", [(busybox_layer, "gzip")])
    [image] = store.import_layout(layout, "example.com/one:1")
    store.prepare_rootfs("hull-images-one", image.id, readonly=True)
    with mounted(store, "hull-images-one", tmp_path / "one-mnt") as root:
        assert chroot(root, "/bin/cat", "/etc/hostname") == "busybox\n"
        with pytest.raises(OSError):
            (root / "etc/new").write_text("no")
    store.remove_rootfs("hull-images-one")
    assert not (tmp_path / "one-mnt/etc").exists()


@pytest.mark.parametrize("link", ["usr/lib", "/usr/lib", "../../../../usr/lib"])
def test_entries_under_a_lower_symlink_land_where_it_points(store, tmp_path, busybox_layer,
                                                            link):
    # merged-/usr bases have lib -> usr/lib; a layer naming lib/x (no lib/ entry) must put
    # x in usr/lib, as containerd's apply-onto-the-parent-mount does, not hide the symlink
    base = layer_tar([("usr", "dir", None), ("usr/lib", "dir", None),
                      ("usr/lib/libc.so", "file", "libc"), ("lib", "symlink", link)])
    top = layer_tar([("lib/libextra.so", "file", "extra"), ("lib/sub/deep.so", "file", "d")])
    layout = make_layout(tmp_path / "merged", [(busybox_layer, "gzip"), (base, "gzip"),
                                               (top, "")])
    [image] = store.import_layout(layout, "example.com/merged:1")
    store.prepare_rootfs("hull-images-merged", image.id)
    with mounted(store, "hull-images-merged", tmp_path / "merged-mnt") as root:
        assert os.readlink(root / "lib") == link
        assert sorted(os.listdir(root / "usr/lib")) == ["libc.so", "libextra.so", "sub"]
        assert chroot(root, "/bin/cat", "/lib/sub/deep.so") == "d"
    store.remove_rootfs("hull-images-merged")


def test_upper_in_use_reads_escaped_upperdir(tmp_path):
    """mountinfo shows a space in upperdir as \\040; the check must still match."""
    from hull.snapshots import overlay
    from hull.sys import libc

    base = tmp_path / "with space"
    for name in ("lower", "upper", "work", "merged"):
        (base / name).mkdir(parents=True)
    upper = str(base / "upper")
    assert not overlay.upper_in_use(upper)
    libc.mount("overlay", str(base / "merged"), "overlay", 0,
               f"lowerdir={base / 'lower'},upperdir={upper},workdir={base / 'work'}")
    try:
        assert overlay.upper_in_use(upper)
        assert not overlay.upper_in_use(upper + "x")
    finally:
        overlay.unmount(str(base / "merged"))
    assert not overlay.upper_in_use(upper)
