"""Readers that stack into the layer pipeline: download -> tee -> decompress -> hash.

Each exposes ``read(n)`` so tarfile can consume the top of the stack while
bytes still arrive at the bottom: a layer is unpacked as it downloads.
"""

from __future__ import annotations

import hashlib
import zlib

from hull import errors

CHUNK = 1 << 20


class ChunkSource:
    """Turns an iterator of byte chunks, then a file-like, into one read(n) stream."""

    def __init__(self, chunks, tail=None):
        self._chunks = iter(chunks)
        self._tail = tail

    def read(self, n: int = -1) -> bytes:
        if self._chunks is not None:
            for chunk in self._chunks:
                if chunk:
                    return chunk
            self._chunks = None
        if self._tail is None:
            return b""
        return self._tail.read(CHUNK if n is None or n < 0 else n)

    def close(self) -> None:
        if self._tail is not None and hasattr(self._tail, "close"):
            self._tail.close()


class TeeReader:
    """Passes reads through and hands every byte to ``sink(bytes)``; counts them."""

    def __init__(self, source, sink=None, on_progress=None):
        self.source, self.sink, self.on_progress = source, sink, on_progress
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        if data:
            if self.sink is not None:
                self.sink(data)
            self.count += len(data)
            if self.on_progress is not None:
                self.on_progress(self.count)
        return data

    def close(self) -> None:
        if hasattr(self.source, "close"):
            self.source.close()


class HashingReader:
    """Hashes everything read through it (the uncompressed digest = the diff ID)."""

    def __init__(self, source):
        self.source = source
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.hash.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class GzipReader:
    """Multi-member gzip with zlib directly: no gzip module per-read overhead.
    Output per step is bounded, so a decompression bomb cannot exhaust memory."""

    MAX_OUT = 8 << 20

    def __init__(self, source):
        self.source = source
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buffer = b""
        self._offset = 0
        self._pending = b""
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        while self._offset >= len(self._buffer) and not self._eof:
            self._fill()
        start = self._offset
        if n is None or n < 0:
            n = len(self._buffer) - start
        self._offset = start + n
        if start == 0 and self._offset >= len(self._buffer):
            return self._buffer  # the common case: no copy
        return self._buffer[start:self._offset]  # one copy of n bytes, never of the rest

    def _fill(self) -> None:
        self._buffer, self._offset = b"", 0
        raw, self._pending = self._pending, b""
        if not raw:
            raw = self.source.read(CHUNK)
            if not raw:
                if not self._z.eof:
                    raise errors.InvalidArgument("layer gzip stream is truncated")
                self._eof = True
                return
        if self._z.eof:
            if not raw.strip(b"\0"):
                return  # zero padding after the last member
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            self._buffer = self._z.decompress(raw, self.MAX_OUT)
        except zlib.error as e:
            raise errors.InvalidArgument(f"layer gzip stream is corrupt: {e}") from e
        self._pending = self._z.unused_data if self._z.eof else self._z.unconsumed_tail


class ZstdReader:
    def __init__(self, source):
        import zstandard  # only layers that need it pay the import

        self._reader = zstandard.ZstdDecompressor().stream_reader(
            source, read_size=CHUNK, read_across_frames=True)
        self._zstd_error = zstandard.ZstdError

    def read(self, n: int = -1) -> bytes:
        try:
            return self._reader.read(CHUNK if n is None or n < 0 else n)
        except self._zstd_error as e:
            raise errors.InvalidArgument(f"layer zstd stream is corrupt: {e}") from e


def decompressor(source, compression: str):
    if compression == "gzip":
        return GzipReader(source)
    if compression == "zstd":
        return ZstdReader(source)
    if compression == "":
        return source
    raise errors.InvalidArgument(f"cannot decompress layer: unsupported compression {compression!r}")


def sniff_compression(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return ""
