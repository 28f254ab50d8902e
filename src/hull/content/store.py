"""The content-addressed blob store (containerd's content service, on disk).

Layout under ``root``::

    blobs/sha256/<hex>       committed blobs; immutable, verified
    ingest/sha256-<hex>      in-progress writes; resumable (offset = its size)
    locks/sha256-<hex>       flock files: one writer per digest at a time

A blob becomes visible only by ``rename`` from ingest/ after its size and
digest were checked, so a killed writer leaves at most an ingest file, which
the next writer resumes. Two writers of the same digest serialise on the
lock; the second then finds the blob committed and writes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from hull import errors
from hull.spec.image import valid_digest

CHUNK = 1 << 20


def _split(digest: str) -> tuple[str, str]:
    if not valid_digest(digest):
        raise errors.InvalidArgument(f"cannot use digest {digest!r}: not a valid sha256/sha512 digest")
    algorithm, hexpart = digest.split(":", 1)
    return algorithm, hexpart


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_prefix(path: Path, length: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


class Writer:
    """Appends to the ingest file of one digest; ``commit`` verifies and publishes."""

    def __init__(self, store: "ContentStore", digest: str, size: int | None):
        self.store, self.digest, self.expected_size = store, digest, size
        algorithm, _ = _split(digest)
        self._hash = hashlib.new(algorithm)
        self.path = store.ingest_path(digest)
        self._file = open(self.path, "a+b")
        self._file.seek(0)
        # resume: re-hash what an earlier, interrupted writer left
        self.offset = 0
        if size is not None and os.fstat(self._file.fileno()).st_size > size:
            self._file.truncate(0)
        while chunk := self._file.read(CHUNK):
            self._hash.update(chunk)
            self.offset += len(chunk)

    def read_existing(self) -> Iterator[bytes]:
        """The bytes already ingested (as of now), for a consumer that must see the
        whole blob; they are not written again."""
        return _read_prefix(self.path, self.offset)

    def write(self, data: bytes) -> None:
        if self.expected_size is not None and self.offset + len(data) > self.expected_size:
            raise errors.InvalidArgument(
                f"cannot write blob {self.digest}: more data than the declared size "
                f"{self.expected_size}")
        self._file.write(data)
        self._hash.update(data)
        self.offset += len(data)

    def discard(self) -> None:
        """Throw away the ingested bytes (they can never verify)."""
        self._file.truncate(0)
        self.offset = 0
        self._hash = hashlib.new(self.digest.split(":", 1)[0])

    def commit(self) -> Path:
        self._file.flush()
        if self.expected_size is not None and self.offset != self.expected_size:
            raise errors.InvalidArgument(
                f"cannot commit blob {self.digest}: size {self.offset} does not match "
                f"the declared {self.expected_size} (truncated or oversized)")
        actual = f"{self.digest.split(':', 1)[0]}:{self._hash.hexdigest()}"
        if actual != self.digest:
            self.discard()
            raise errors.InvalidArgument(
                f"cannot commit blob {self.digest}: digest mismatch (got {actual})")
        os.fsync(self._file.fileno())
        target = self.store.path(self.digest)
        os.chmod(self.path, 0o444)
        os.rename(self.path, target)
        _fsync_dir(target.parent)
        return target

    def close(self) -> None:
        self._file.close()


class ContentStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        for d in ("blobs/sha256", "blobs/sha512", "ingest", "locks"):
            (self.root / d).mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        algorithm, hexpart = _split(digest)
        return self.root / "blobs" / algorithm / hexpart

    def ingest_path(self, digest: str) -> Path:
        algorithm, hexpart = _split(digest)
        return self.root / "ingest" / f"{algorithm}-{hexpart}"

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError as e:
            raise errors.NotFound(f"cannot stat blob {digest}: not in the content store") from e

    def open(self, digest: str):
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError as e:
            raise errors.NotFound(f"cannot open blob {digest}: not in the content store") from e

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    @contextlib.contextmanager
    def lock(self, digest: str) -> Iterator[None]:
        algorithm, hexpart = _split(digest)
        fd = os.open(self.root / "locks" / f"{algorithm}-{hexpart}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def writer(self, digest: str, size: int | None = None) -> Iterator[Writer | None]:
        """A Writer for ``digest`` under its lock, or None when it is committed already."""
        with self.lock(digest):
            if self.exists(digest):
                yield None
                return
            writer = Writer(self, digest, size)
            try:
                yield writer
            finally:
                writer.close()

    def write_bytes(self, data: bytes, digest: str | None = None) -> str:
        digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
        with self.writer(digest, len(data)) as w:
            if w is not None:
                w.discard()
                w.write(data)
                w.commit()
        return digest

    def import_file(self, source, digest: str, size: int | None = None) -> None:
        """Copy a readable file object into the store, verified."""
        with self.writer(digest, size) as w:
            if w is None:
                return
            w.discard()
            while chunk := source.read(CHUNK):
                w.write(chunk)
            w.commit()

    def delete(self, digest: str) -> None:
        """Idempotent."""
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def list(self) -> Iterator[str]:
        for algorithm in ("sha256", "sha512"):
            for entry in os.scandir(self.root / "blobs" / algorithm):
                yield f"{algorithm}:{entry.name}"

    def list_ingests(self) -> Iterator[str]:
        for entry in os.scandir(self.root / "ingest"):
            algorithm, _, hexpart = entry.name.partition("-")
            yield f"{algorithm}:{hexpart}"

    def abort_ingest(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.ingest_path(digest).unlink()

    def used_bytes(self) -> int:
        return sum(self.size(d) for d in self.list())
