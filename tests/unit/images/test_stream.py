"""Decompressing readers: gzip (multi-member, padded), zstd, truncation, diff hashing."""

from __future__ import annotations

import gzip
import hashlib
import io
import os

import pytest
import zstandard

from hull import errors
from hull.snapshots.stream import HashingReader, TeeReader, decompressor, sniff_compression

PAYLOAD = os.urandom(200_000) + b"\0" * 3_000_000


def read_all(reader) -> bytes:
    out = []
    while chunk := reader.read(65536):
        out.append(chunk)
    return b"".join(out)


def test_gzip_multi_member_and_padding():
    raw = gzip.compress(PAYLOAD[:1000]) + gzip.compress(PAYLOAD[1000:]) + b"\0" * 512
    assert read_all(decompressor(io.BytesIO(raw), "gzip")) == PAYLOAD


def test_zstd_multiple_frames():
    z = zstandard.ZstdCompressor()
    raw = z.compress(PAYLOAD[:5000]) + z.compress(PAYLOAD[5000:])
    assert read_all(decompressor(io.BytesIO(raw), "zstd")) == PAYLOAD


def test_truncated_gzip_is_an_error():
    raw = gzip.compress(PAYLOAD)[:-100]
    with pytest.raises(errors.InvalidArgument, match="truncated"):
        read_all(decompressor(io.BytesIO(raw), "gzip"))


def test_corrupt_gzip_is_an_error():
    raw = bytearray(gzip.compress(PAYLOAD))
    raw[40:60] = b"\xff" * 20
    with pytest.raises(errors.InvalidArgument):
        read_all(decompressor(io.BytesIO(bytes(raw)), "gzip"))


def test_tee_and_hash_see_every_byte():
    raw = gzip.compress(PAYLOAD)
    seen = []
    tee = TeeReader(io.BytesIO(raw), seen.append)
    hashing = HashingReader(decompressor(tee, "gzip"))
    hashing.drain()
    assert b"".join(seen) == raw and tee.count == len(raw)
    assert hashing.digest == "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


def test_unknown_compression_and_sniffing():
    with pytest.raises(errors.InvalidArgument):
        decompressor(io.BytesIO(b""), "bzip2")
    assert sniff_compression(gzip.compress(b"x")) == "gzip"
    assert sniff_compression(zstandard.ZstdCompressor().compress(b"x")) == "zstd"
    assert sniff_compression(b"plain tar") == ""
