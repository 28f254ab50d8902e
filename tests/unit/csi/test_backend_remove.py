"""A backend removes what it owns: empty or full directories, files, links (never their targets)."""

from __future__ import annotations

from hull.csi.backends.base import Backend


def test_remove_path_takes_every_kind_and_spares_link_targets(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    full = tmp_path / "full"
    (full / "sub").mkdir(parents=True)
    (full / "sub" / "data").write_text("x")
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep").write_text("k")
    link = tmp_path / "link"
    link.symlink_to(target)
    image = tmp_path / "v.img"
    image.write_bytes(b"\0" * 16)
    for path in (empty, full, link, image, tmp_path / "missing"):
        Backend._remove_path(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]
    assert (target / "keep").read_text() == "k"
