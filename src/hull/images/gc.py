"""Mark and sweep over the image store.

Roots: every image row (its blobs and layer chain), every container
snapshot (active or view) and the parent chain under it, and whatever the
caller says is in use (image ids, snapshot keys, blob digests). Pulls,
imports and builds hold the GC lease (a shared flock) while they write
things no image names yet; collection takes it exclusively, so it never
sweeps a half-finished pull. Rows go before files, and files no row names
(left by a crash) are swept too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

from hull.images.image import GcReport

STALE_INGEST_SECONDS = 24 * 3600


@contextlib.contextmanager
def lease(root, exclusive: bool = False, wait: bool = True):
    """Shared for writers of unreferenced content, exclusive for GC. Yields acquired?"""
    fd = os.open(os.path.join(root, "gc.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _chain(store, key: str | None) -> list[str]:
    out = []
    while key and key not in out:
        out.append(key)
        row = store.meta.snapshot(key)
        key = row["parent"] if row else None
    return out


def mark(store, in_use: set[str]) -> tuple[set[str], set[str]]:
    keep_blobs: set[str] = set()
    keep_snapshots: set[str] = set()
    images = {row["id"]: row for row in store.meta.images()}
    for image_id, row in images.items():
        keep_blobs.update(r[0] for r in store.meta.query(
            "SELECT digest FROM image_blobs WHERE image_id = ?", (image_id,)))
        keep_blobs.add(image_id)
        keep_snapshots.update(json.loads(row["chain_ids"]))
    for row in store.meta.query("SELECT key FROM snapshots WHERE kind IN ('active', 'view')"):
        keep_snapshots.update(_chain(store, row["key"]))
    for item in in_use:
        keep_blobs.add(item)
        keep_snapshots.update(_chain(store, item))
    return keep_blobs, keep_snapshots


def _lock_free(store, chain_id: str) -> bool:
    path = store.root / "locks" / chain_id.replace(":", "-")
    if not path.exists():
        return True
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def sweep_snapshots(store, keep: set[str], report: GcReport) -> None:
    known_ids = set()
    for row in store.meta.query("SELECT key, id, kind, size FROM snapshots"):
        if row["key"] in keep or (row["kind"] == "pending" and not _lock_free(store, row["key"])):
            known_ids.add(row["id"])
            continue
        store.meta.delete_snapshot(row["key"])
        store.dirs.remove(row["id"])
        report.removed_snapshots.append(row["key"])
        report.reclaimed_bytes += row["size"]
    for orphan in store.dirs.ids_on_disk() - known_ids:
        if store.meta.query("SELECT 1 FROM snapshots WHERE id = ?", (orphan,)):
            continue  # reserved after our listing
        store.dirs.remove(orphan)
        report.removed_snapshots.append(f"#{orphan}")


def sweep_blobs(store, keep: set[str], report: GcReport) -> None:
    for digest in list(store.content.list()):
        if digest in keep:
            continue
        with contextlib.suppress(Exception):
            report.reclaimed_bytes += store.content.size(digest)
        with store.meta.transaction() as db:
            db.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
        store.content.delete(digest)
        report.removed_blobs.append(digest)
    now = time.time()
    for digest in list(store.content.list_ingests()):
        path = store.content.ingest_path(digest)
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime > STALE_INGEST_SECONDS:
                path.unlink()
                report.removed_ingests.append(digest)


def drop_dangling(store, in_use: set[str]) -> None:
    for row in store.meta.query("SELECT id FROM images WHERE id NOT IN "
                                "(SELECT image_id FROM names)"):
        if row["id"] not in in_use:
            store.meta.delete_image(row["id"])


def collect(store, in_use: set[str], *, dangling: bool = False, wait: bool = True) -> GcReport:
    report = GcReport()
    with lease(store.root, exclusive=True, wait=wait) as acquired:
        if not acquired:
            return report
        if dangling:
            drop_dangling(store, in_use)
        keep_blobs, keep_snapshots = mark(store, in_use)
        sweep_snapshots(store, keep_snapshots, report)
        sweep_blobs(store, keep_blobs, report)
    return report
