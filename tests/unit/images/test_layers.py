"""A pull that fills the disk drops its partial download, so the metadata can be cleaned."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from hull import errors
from hull.images.layers import _disk_full


def test_disk_full_causes():
    assert _disk_full(OSError(errno.ENOSPC, "No space left on device"))
    wrapped = errors.Internal("x")
    wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert _disk_full(wrapped)
    assert _disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not _disk_full(OSError(errno.EIO, "I/O error"))
    assert not _disk_full(errors.InvalidArgument("diff_id mismatch"))


class _FailingFetch:
    """The registry stream breaks after the first chunk (an interrupted pull)."""

    def __init__(self, data: bytes):
        self.data, self.sent = data, False

    def __call__(self, offset: int):
        return self

    def read(self, n: int = -1) -> bytes:
        if self.sent:
            raise errors.Unavailable("connection reset")
        self.sent = True
        return self.data[:100]


def _layer(store):
    from hull.spec.image import Descriptor
    from .conftest import gz, sha, tar_bytes
    raw = tar_bytes([({"name": f"f{i}"}, bytes([i]) * 4096) for i in range(50)])
    blob = gz(raw)
    media = "application/vnd.oci.image.layer.v1.tar+gzip"
    return Descriptor(media_type=media, digest=sha(blob), size=len(blob)), sha(raw), blob


def test_interrupted_pull_keeps_partial_for_resume(store):
    from hull.images.layers import ensure_layer
    layer, diff_id, blob = _layer(store)
    ctx = store.layer_context()
    with pytest.raises(errors.Unavailable):
        ensure_layer(ctx, layer, diff_id, diff_id, None, _FailingFetch(blob))
    assert store.meta.snapshot(diff_id) is None
    assert list(store.content.list_ingests()) == [layer.digest]


def test_full_database_drops_partial_then_the_pending_row(store, monkeypatch):
    from hull.images.layers import ensure_layer
    layer, diff_id, blob = _layer(store)
    ctx = store.layer_context()
    real, calls = ctx.meta.delete_snapshot, []

    def full_once(key):
        calls.append(list(store.content.list_ingests()))
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        real(key)
    monkeypatch.setattr(ctx.meta, "delete_snapshot", full_once)
    with pytest.raises(errors.Unavailable):
        ensure_layer(ctx, layer, diff_id, diff_id, None, _FailingFetch(blob))
    assert calls == [[layer.digest], []]  # retried once the partial was gone
    assert store.meta.snapshot(diff_id) is None
