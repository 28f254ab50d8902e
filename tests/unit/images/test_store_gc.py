"""ImageStore metadata, names, transactions and GC reachability (no mounts)."""

from __future__ import annotations

import os

import pytest

from hull import errors
from hull.images import ImageStore


@pytest.fixture
def two_images(store, rootfs, tmp_path):
    """Two images sharing their base layer; the second adds a layer."""
    extra = tmp_path / "extra"
    (extra / "srv").mkdir(parents=True)
    (extra / "srv/index.html").write_text("hi")
    base = store.build_rootfs(rootfs, "example.com/base:1", config={"Cmd": ["/bin/true"]})
    app = store.build_rootfs([rootfs, extra], "example.com/app:1", config={"Cmd": ["/bin/true"]})
    return base, app


def layer_dirs(store):
    return sorted(store.dirs.ids_on_disk())


def test_get_by_tag_digest_id_and_short_id(store, two_images):
    base, _ = two_images
    for text in ("example.com/base:1", base.id, base.id.split(":")[1], base.short_id,
                 base.short_id[:6]):
        assert store.get(text).id == base.id
    with pytest.raises(errors.NotFound, match="no such image"):
        store.get("example.com/base:2")


def test_shared_layer_is_one_snapshot(store, two_images):
    base, app = two_images
    assert app.chain_ids[0] == base.chain_ids[0]
    assert len(layer_dirs(store)) == 2
    assert len(store.list()) == 2


def test_remove_keeps_layers_of_other_images(store, two_images):
    base, app = two_images
    store.remove("example.com/app:1")
    assert [i.id for i in store.list()] == [base.id]
    assert len(layer_dirs(store)) == 1
    assert store.lowers(base.chain_ids)  # still resolvable
    store.remove("example.com/app:1", missing_ok=True)  # CRI: idempotent
    with pytest.raises(errors.NotFound):
        store.remove("example.com/app:1")


def test_container_snapshot_keeps_its_layers_after_rmi(store, two_images):
    _, app = two_images
    snap = store.prepare_rootfs("ctr-1", "example.com/app:1")
    assert len(snap.lowers) == 2 and snap.upper
    store.remove(app.id)
    report = store.gc()
    assert report.removed_snapshots == []
    assert store.snapshot("ctr-1").lowers == snap.lowers
    store.remove_rootfs("ctr-1")
    store.remove_rootfs("ctr-1")  # idempotent
    report = store.gc()
    assert len(report.removed_snapshots) == 1  # app's top layer; base is still an image


def test_in_use_protects_an_untagged_image(store, two_images):
    _, app = two_images
    store.meta.untag("example.com/app:1")  # last name gone: the image row goes too
    report = store.gc(in_use={app.top_chain_id})
    assert report.removed_snapshots == []
    report = store.gc()
    assert len(report.removed_snapshots) == 1


def test_gc_sweeps_crash_leftovers(store, two_images):
    orphan_dir = store.dirs.path(999) / "fs"
    orphan_dir.mkdir(parents=True)
    orphan_blob = store.content.write_bytes(b"nobody names me")
    store.meta.reserve_snapshot("sha256:" + "e" * 64, None, None)  # a pending row, lock free
    report = store.gc()
    assert "#999" in report.removed_snapshots
    assert orphan_blob in report.removed_blobs
    assert "sha256:" + "e" * 64 in report.removed_snapshots
    assert len(store.list()) == 2  # and nothing of the images went


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.meta.transaction() as db:
            db.execute("INSERT INTO blobs VALUES ('sha256:x', 1, '')")
            raise RuntimeError("crash mid-transaction")
    assert store.meta.blob("sha256:x") is None


def test_tag_moves_and_dangling_prune(store, two_images):
    base, app = two_images
    store.tag(base.id, "example.com/app:1")  # tag moves; app becomes dangling
    assert store.get("example.com/app:1").id == base.id
    assert {i.id for i in store.list()} == {base.id, app.id}
    store.gc(dangling=True)
    assert [i.id for i in store.list()] == [base.id]


def test_reopen_sees_the_same_store(store, two_images, tmp_path):
    again = ImageStore(store.root)
    assert {i.id for i in again.list()} == {i.id for i in two_images}
    usage = again.usage()
    assert usage["path"] == str(store.root) and usage["used_bytes"] > 0 and usage["inodes_used"] > 0


def test_prepare_twice_and_conflict(store, two_images):
    first = store.prepare_rootfs("ctr-x", "example.com/base:1")
    assert store.prepare_rootfs("ctr-x", "example.com/base:1").id == first.id
    with pytest.raises(errors.AlreadyExists):
        store.prepare_rootfs("ctr-x", "example.com/app:1")
    view = store.prepare_rootfs("view-x", "example.com/app:1", readonly=True)
    assert view.kind == "view" and view.upper is None
    assert os.path.isdir(first.upper)


def test_layers_unsynced_before_a_reboot_are_unpacked_again(store, two_images):
    _, app = two_images
    snap = store.prepare_rootfs("ctr-r", app.id)
    assert store.meta.unsynced_snapshots()  # unpacked without a sync
    with store.meta.transaction() as db:  # pretend the machine rebooted since
        db.execute("UPDATE snapshots SET unsynced_boot = 'an-earlier-boot' "
                   "WHERE unsynced_boot IS NOT NULL")
    again = ImageStore(store.root)
    assert again.meta.query("SELECT key FROM snapshots WHERE kind = 'committed'") == []
    healed = again.snapshot("ctr-r")  # the container's layers come back from the blobs
    assert len(healed.lowers) == 2 and all(os.path.isdir(d) for d in healed.lowers)
    assert healed.upper == snap.upper
    assert open(os.path.join(healed.lowers[0], "srv/index.html")).read() == "hi"


def test_sync_marks_layers_durable(store, two_images):
    store.sync()
    assert store.meta.unsynced_snapshots() == []


def test_rmi_untags_and_removes_with_the_last_tag(store, two_images):
    base, _ = two_images
    store.tag(base.id, "example.com/alias:2")
    store.remove("example.com/base:1")
    assert store.get("example.com/alias:2").repo_tags == ["example.com/alias:2"]
    assert store.get(base.id).id == base.id  # another tag keeps the image
    store.remove("example.com/alias:2")
    with pytest.raises(errors.NotFound):
        store.get(base.id)


def test_remove_all_names_for_cri(store, two_images):
    base, _ = two_images
    store.tag(base.id, "example.com/alias:2")
    store.remove("example.com/base:1", all_names=True)
    with pytest.raises(errors.NotFound):
        store.get("example.com/alias:2")


def test_older_schema_gains_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old" / "images.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE snapshots (key TEXT PRIMARY KEY, id INTEGER UNIQUE NOT NULL, "
                   "kind TEXT NOT NULL, parent TEXT, diff_id TEXT, size INTEGER NOT NULL "
                   "DEFAULT 0, image_id TEXT, created REAL NOT NULL)")
    store = ImageStore(tmp_path / "old")
    columns = {row[1] for row in store.meta.query("PRAGMA table_info(snapshots)")}
    assert {"inodes", "unsynced_boot"} <= columns
