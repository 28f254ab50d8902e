"""Helpers for image tests: tar layers built in memory, small stores."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest

from hull.images import ImageStore


def tar_bytes(entries) -> bytes:
    """entries: (TarInfo kwargs dict, data bytes | None) pairs, in order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for fields, data in entries:
            info = tarfile.TarInfo(fields.pop("name"))
            pax = fields.pop("pax", None)
            for key, value in fields.items():
                setattr(info, key, value)
            if pax:
                info.pax_headers = pax
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return out.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore(tmp_path / "store")


@pytest.fixture
def rootfs(tmp_path):
    """A tiny root filesystem with /etc/passwd and /etc/group, no busybox needed."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin/true").write_text("#!/bin/sh\n")
    (root / "bin/true").chmod(0o755)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                     "app:x:1000:1001:app:/home/app:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\napp:x:1001:\nwheel:x:10:app,root\n"
                                    "audio:x:29:app\n")
    return root
