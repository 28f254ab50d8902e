"""Turn one layer blob into a committed snapshot, streaming.

The compressed bytes flow source -> tee (into the content store's ingest
file) -> decompressor -> hash (the diff ID) -> tar applier (into the
snapshot's tmp dir). Only when the blob's size and digest and the diff ID
all check out does the tmp dir become the snapshot's ``fs`` and its row
turn ``committed``. A per-chain-ID flock makes a second puller of the same
layer wait and then find it done.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from hull import errors
from hull.content import ContentStore
from hull.images.image import ProgressEvent
from hull.images.metadata import Metadata
from hull.snapshots import SnapshotDirs, apply_tar
from hull.snapshots.implied import fix_implied_dirs
from hull.snapshots.stream import (CHUNK, ChunkSource, HashingReader, TeeReader,
                                   decompressor, sniff_compression)
from hull.spec.image import LAYER_COMPRESSION, Descriptor

IMPLIED = "implied.json"  # beside fs/: parent dirs a layer made without entries

# fetch(offset) -> file-like with read(n) of the blob's bytes from offset
Fetch = Callable[[int], object]


class Cancelled(errors.HullError):
    """Another layer of the same pull failed; this one stops early."""


class LayerContext:
    def __init__(self, content: ContentStore, dirs: SnapshotDirs, meta: Metadata,
                 locks: Path, progress=None, cancel: threading.Event | None = None):
        self.content, self.dirs, self.meta = content, dirs, meta
        self.locks = locks
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.allow_devices = os.geteuid() == 0  # mknod needs root; refuse clearly otherwise

    def report(self, digest: str, action: str, current: int = 0, total: int = 0) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(digest, action, current, total))

    @contextlib.contextmanager
    def chain_lock(self, chain_id: str):
        self.locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.locks / chain_id.replace(":", "-"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def boot_id() -> str:
    """Identifies this boot: page-cache-only data survives a process crash, not a reboot."""
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def snapshot_ready(ctx: LayerContext, chain_id: str) -> bool:
    row = ctx.meta.snapshot(chain_id)
    return bool(row and row["kind"] == "committed" and ctx.dirs.fs(row["id"]).is_dir())


def ensure_layer(ctx: LayerContext, layer: Descriptor, diff_id: str, chain_id: str,
                 parent: str | None, fetch: Fetch | None) -> None:
    """Make the snapshot ``chain_id`` exist (and the blob, when ``fetch`` can get it)."""
    with ctx.chain_lock(chain_id):
        if snapshot_ready(ctx, chain_id):
            if fetch is not None and not ctx.content.exists(layer.digest):
                _download_only(ctx, layer, fetch)
            ctx.report(layer.digest, "exists", layer.size, layer.size)
            return
        stale = ctx.meta.snapshot(chain_id)
        if stale is not None:  # a crash left a pending row (or a lost dir)
            ctx.dirs.remove(stale["id"])
            ctx.meta.delete_snapshot(chain_id)
        snapshot_id = ctx.meta.reserve_snapshot(chain_id, parent, diff_id)
        try:
            tmp = ctx.dirs.unpack_dir(snapshot_id)
            size, inodes = _unpack(ctx, layer, diff_id, tmp, fetch)
            ctx.dirs.publish(snapshot_id)
            ctx.meta.commit_snapshot(chain_id, size, inodes, unsynced_boot=boot_id())
        except BaseException as e:
            ctx.dirs.remove(snapshot_id)
            _forget_pending(ctx, chain_id, layer, e)
            raise
    ctx.report(layer.digest, "done", layer.size, layer.size)


def _forget_pending(ctx: LayerContext, chain_id: str, layer: Descriptor,
                    failure: BaseException) -> None:
    """Drop the pending row of a failed unpack; on a full disk, make room for SQLite first.

    The partial download is kept for a later Range-resume, except when the
    disk is full: then it is what stands between SQLite and the room it needs
    to delete the row (and resuming it would only fill the disk again).
    """
    if _disk_full(failure):
        _abort_ingest(ctx, layer)
    try:
        ctx.meta.delete_snapshot(chain_id)
    except Exception as e:
        if not _disk_full(e):
            raise
        _abort_ingest(ctx, layer)
        ctx.meta.delete_snapshot(chain_id)


def _abort_ingest(ctx: LayerContext, layer: Descriptor) -> None:
    with ctx.content.lock(layer.digest):
        ctx.content.abort_ingest(layer.digest)


def _disk_full(err: BaseException | None) -> bool:
    """ENOSPC, EDQUOT or SQLITE_FULL anywhere in the chain of causes (errors get wrapped)."""
    for _ in range(10):
        if err is None:
            return False
        if isinstance(err, errors.ResourceExhausted):
            return True
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if type(err).__module__ == "sqlite3" and "full" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def _compression(layer: Descriptor, head: bytes = b"") -> str:
    if layer.media_type in LAYER_COMPRESSION:
        return LAYER_COMPRESSION[layer.media_type]
    if head:
        return sniff_compression(head)
    raise errors.InvalidArgument(f"unsupported layer media type {layer.media_type!r}")


def _progress_hook(ctx: LayerContext, layer: Descriptor):
    def on_progress(count: int) -> None:
        if ctx.cancel.is_set():
            raise Cancelled("cancelled: another layer failed")
        ctx.report(layer.digest, "downloading", count, layer.size)
    return on_progress


def _unpack(ctx: LayerContext, layer: Descriptor, diff_id: str, tmp: Path,
            fetch: Fetch | None) -> tuple[int, int]:
    compression = _compression(layer)
    with ctx.content.writer(layer.digest, layer.size) as writer:
        if writer is None:
            source = ctx.content.open(layer.digest)
        elif fetch is None:
            raise errors.NotFound(f"layer blob {layer.digest} is not in the content store")
        else:  # replay what an interrupted pull left, then download (into the ingest) the rest
            network = TeeReader(_LazyFetch(fetch, writer.offset), writer.write)
            source = ChunkSource(writer.read_existing(), network)
        with contextlib.closing(source):
            tee = TeeReader(source, None, _progress_hook(ctx, layer))
            hashing = HashingReader(decompressor(tee, compression))
            applied = apply_tar(hashing, str(tmp), allow_devices=ctx.allow_devices)
            hashing.drain()
            while tee.read(CHUNK):  # bytes past the compressed stream's end still count
                pass
        ctx.report(layer.digest, "verifying", layer.size, layer.size)
        if writer is not None:
            writer.commit()
    if hashing.digest != diff_id:
        raise errors.InvalidArgument(
            f"layer {layer.digest} unpacks to {hashing.digest}, but the image config "
            f"says {diff_id} (diff_id mismatch)")
    if applied.implied:
        (tmp.parent / IMPLIED).write_text(json.dumps(applied.implied))
    return hashing.count, applied.entries


def _download_only(ctx: LayerContext, layer: Descriptor, fetch: Fetch) -> None:
    with ctx.content.writer(layer.digest, layer.size) as writer:
        if writer is None:
            return
        source = _LazyFetch(fetch, writer.offset)
        tee = TeeReader(source, writer.write, _progress_hook(ctx, layer))
        while tee.read(CHUNK):
            pass
        writer.commit()


class _LazyFetch:
    """Opens the network stream only when the replayed ingest bytes are used up."""

    def __init__(self, fetch: Fetch, offset: int):
        self._fetch, self._offset, self._stream = fetch, offset, None

    def read(self, n: int = -1) -> bytes:
        if self._stream is None:
            self._stream = self._fetch(self._offset)
        return self._stream.read(n)

    def close(self) -> None:
        if self._stream is not None and hasattr(self._stream, "close"):
            self._stream.close()


def fix_layer_chain(ctx: LayerContext, chain_ids: list[str]) -> None:
    """Once a chain's layers all exist, give implied dirs their lower layer's metadata."""
    rows = [ctx.meta.snapshot(chain_id) for chain_id in chain_ids]
    if any(row is None for row in rows):
        return
    dirs = [str(ctx.dirs.fs(row["id"])) for row in rows]
    for i, row in enumerate(rows):
        marker = ctx.dirs.path(row["id"]) / IMPLIED
        if i == 0 or not marker.exists():
            continue
        with ctx.chain_lock(chain_ids[i]):
            with contextlib.suppress(FileNotFoundError):
                fix_implied_dirs(dirs, i, json.loads(marker.read_text()))
                marker.unlink()
