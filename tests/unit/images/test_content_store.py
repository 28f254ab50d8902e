"""Content store: blobs become visible only verified; ingests resume; one writer per digest."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from hull import errors
from hull.content import ContentStore

DATA = os.urandom(300_000)
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def content(tmp_path) -> ContentStore:
    return ContentStore(tmp_path / "content")


def test_commit_makes_blob_visible_only_after_verification(content):
    with content.writer(DIGEST, len(DATA)) as w:
        w.write(DATA[:1000])
        assert not content.exists(DIGEST)
        w.write(DATA[1000:])
        path = w.commit()
    assert content.exists(DIGEST)
    assert path.read_bytes() == DATA
    assert list(content.list()) == [DIGEST]
    assert list(content.list_ingests()) == []


def test_digest_mismatch_is_refused_and_discarded(content):
    bad = bytearray(DATA)
    bad[5] ^= 0xFF
    with content.writer(DIGEST, len(DATA)) as w:
        w.write(bytes(bad))
        with pytest.raises(errors.InvalidArgument, match="digest mismatch"):
            w.commit()
    assert not content.exists(DIGEST)
    assert content.ingest_path(DIGEST).stat().st_size == 0


def test_truncated_blob_is_refused_and_kept_for_resume(content):
    with content.writer(DIGEST, len(DATA)) as w:
        w.write(DATA[:1234])
        with pytest.raises(errors.InvalidArgument, match="truncated"):
            w.commit()
    assert not content.exists(DIGEST)
    with content.writer(DIGEST, len(DATA)) as w:
        assert w.offset == 1234
        assert b"".join(w.read_existing()) == DATA[:1234]
        w.write(DATA[1234:])
        w.commit()
    assert content.read(DIGEST) == DATA


def test_oversized_write_is_refused(content):
    with content.writer(DIGEST, 10) as w:
        with pytest.raises(errors.InvalidArgument, match="more data than the declared size"):
            w.write(DATA[:11])


def test_second_writer_waits_and_finds_the_blob(content):
    started, order = threading.Event(), []

    def first():
        with content.writer(DIGEST, len(DATA)) as w:
            started.set()
            order.append("first-writing")
            threading.Event().wait(0.2)
            w.write(DATA)
            w.commit()

    thread = threading.Thread(target=first)
    thread.start()
    started.wait()
    with content.writer(DIGEST, len(DATA)) as w:
        order.append("second-got-lock")
        assert w is None  # committed by the first: nothing to download
    thread.join()
    assert order == ["first-writing", "second-got-lock"]


def test_write_bytes_and_delete_are_idempotent(content):
    assert content.write_bytes(DATA) == DIGEST
    assert content.write_bytes(DATA) == DIGEST
    content.delete(DIGEST)
    content.delete(DIGEST)
    assert not content.exists(DIGEST)
    with pytest.raises(errors.NotFound):
        content.read(DIGEST)


def test_invalid_digest_is_rejected(content):
    with pytest.raises(errors.InvalidArgument):
        content.path("sha256:../../etc/passwd")
