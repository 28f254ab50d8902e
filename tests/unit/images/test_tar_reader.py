"""The streaming tar reader agrees with tarfile on every format layers use."""

from __future__ import annotations

import io
import os
import random
import tarfile

import pytest

from hull.snapshots.tar import TarFormatError, TarReader


def build(fmt, entries, pax_headers=None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, pax_headers=pax_headers) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def info(name, size=0, **kw):
    entry = tarfile.TarInfo(name)
    entry.size = size
    for key, value in kw.items():
        setattr(entry, key, value)
    return entry


def read_all(data: bytes):
    reader = TarReader(io.BytesIO(data))
    out = []
    for member in reader:
        body = b""
        while chunk := reader.read(65536):
            body += chunk
        out.append((member.name.rstrip("/"), member.type, member.size if member.isreg() else 0,
                    member.linkname, member.uid, member.gid, member.mode, int(member.mtime), body))
    return out


def reference(data: bytes):
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            body = tar.extractfile(m).read() if m.isreg() else b""
            out.append((m.name, m.type, m.size if m.isreg() else 0, m.linkname, m.uid, m.gid,
                        m.mode, int(m.mtime), body))
    return out


LONG = "deep/" * 40 + "name-longer-than-100-bytes.txt"


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_matches_tarfile(fmt):
    rng = random.Random(7)
    entries = [(info("dir", type=tarfile.DIRTYPE, mode=0o755), None)]
    for i in range(50):
        size = rng.choice((0, 1, 511, 512, 513, 70_000))
        entries.append((info(f"dir/f{i}", size, mode=0o640, uid=1000 + i, gid=7, mtime=12345 + i),
                        rng.randbytes(size)))
    entries.append((info("dir/link", type=tarfile.SYMTYPE, linkname="f1"), None))
    entries.append((info("dir/hard", type=tarfile.LNKTYPE, linkname="dir/f2"), None))
    if fmt != tarfile.USTAR_FORMAT:
        entries.append((info(LONG, 3), b"abc"))
        entries.append((info("big-ids", 1, uid=3_000_000, gid=2_500_000), b"x"))
    data = build(fmt, entries)
    assert read_all(data) == reference(data)


def test_pax_xattrs_and_global_headers():
    entry = info("f", 1)
    entry.pax_headers = {"SCHILY.xattr.user.a": "1", "LIBARCHIVE.xattr.user.b%20c": "aGk="}
    data = build(tarfile.PAX_FORMAT, [(entry, b"x")], pax_headers={"comment": "global"})
    [member] = list(TarReader(io.BytesIO(data)))
    assert sorted(member.xattrs) == [("user.a", b"1"), ("user.b c", b"hi")]


def test_bad_checksum_is_refused():
    data = bytearray(build(tarfile.USTAR_FORMAT, [(info("f", 1), b"x")]))
    data[0] ^= 0x01
    with pytest.raises(TarFormatError, match="bad checksum"):
        list(TarReader(io.BytesIO(bytes(data))))


def test_truncated_data_is_refused():
    data = build(tarfile.USTAR_FORMAT, [(info("f", 5000), os.urandom(5000))])[:1500]
    reader = TarReader(io.BytesIO(data))
    with pytest.raises(TarFormatError, match="truncated"):
        for _ in reader:
            while reader.read(4096):
                pass


def test_sparse_entries_are_refused():
    entry = info("sparse", 0, type=tarfile.GNUTYPE_SPARSE)
    data = build(tarfile.GNU_FORMAT, [(entry, None)])
    with pytest.raises(TarFormatError, match="sparse"):
        list(TarReader(io.BytesIO(data)))
