"""OCI layout round trips through hull itself, and the CLI's listing output."""

from __future__ import annotations

import io
import json
import os

import pytest

from hull import errors
from hull.cli.main import main
from hull.images import ImageStore


@pytest.fixture
def image(store, rootfs):
    return store.build_rootfs(rootfs, "example.com/round:trip", config={"Cmd": ["/bin/true"]})


@pytest.mark.parametrize("as_tar", [False, True])
def test_export_import_round_trip(store, image, tmp_path, as_tar):
    target = tmp_path / ("layout.tar" if as_tar else "layout")
    store.export_layout("example.com/round:trip", target)
    if not as_tar:
        index = json.loads((target / "index.json").read_text())
        assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "trip"
        assert json.loads((target / "oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"
    other = ImageStore(tmp_path / "other")
    imported = other.import_layout(target, "example.com/copy:1")
    assert [i.id for i in imported] == [image.id]
    assert other.get("example.com/copy:1").manifest_digest == image.manifest_digest
    assert other.lowers(imported[0].chain_ids)


def test_import_names_bare_tags_like_podman(store, image, tmp_path):
    store.export_layout(image.id, tmp_path / "myimage", tag="v2")
    other = ImageStore(tmp_path / "other")
    imported = other.import_layout(tmp_path / "myimage")
    assert imported[0].repo_tags == ["localhost/myimage:v2"]


def test_import_refuses_a_corrupt_blob_and_leaves_the_store_empty(store, image, tmp_path):
    store.export_layout(image.id, tmp_path / "bad")
    config_blob = tmp_path / "bad/blobs/sha256" / image.id.split(":")[1]
    os.chmod(config_blob, 0o644)
    config_blob.write_bytes(config_blob.read_bytes() + b" ")
    other = ImageStore(tmp_path / "other")
    with pytest.raises(errors.InvalidArgument, match="does not match"):
        other.import_layout(tmp_path / "bad", "example.com/bad:1")
    assert other.list() == []
    assert list(other.content.list()) == []


def test_cli_images_json_inspect_and_rmi(store, image, capsys):
    root = str(store.root)
    assert main(["--root", root, "images", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing[0]["id"] == image.id and listing[0]["repoTags"] == ["example.com/round:trip"]
    assert main(["--root", root, "images"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["REPOSITORY", "TAG", "IMAGE"]
    assert table[1].split()[:3] == ["example.com/round", "trip", image.short_id]
    assert main(["--root", root, "image", "inspect", image.short_id]) == 0
    assert json.loads(capsys.readouterr().out)[0]["Config"]["config"]["Cmd"] == ["/bin/true"]
    assert main(["--root", root, "rmi", "example.com/round:trip"]) == 0
    assert main(["--root", root, "rmi", "example.com/round:trip"]) == 3
    assert "no such image" in capsys.readouterr().err
    assert main(["--root", root, "rmi", "-f", "example.com/round:trip"]) == 0


def test_cli_build_rootfs_options(tmp_path, rootfs, capsys):
    root = str(tmp_path / "cli")
    assert main(["--root", root, "image", "build-rootfs", str(rootfs), "demo:1", "--cmd",
                 "echo hi", "--env", "A=1", "--user", "app", "--expose", "8080",
                 "--workdir", "/srv", "--stop-signal", "SIGINT"]) == 0
    image_id = capsys.readouterr().out.strip()
    config = ImageStore(root).get("demo:1").config["config"]
    assert ImageStore(root).get("demo:1").id == image_id
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert "A=1" in config["Env"] and config["User"] == "app"
    assert config["ExposedPorts"] == {"8080/tcp": {}} and config["WorkingDir"] == "/srv"
    assert main(["--root", root, "image", "build-rootfs", str(tmp_path / "missing"), "x:1"]) == 3


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _events(printer):
    from hull.images import ProgressEvent

    printer(ProgressEvent("sha256:" + "a" * 64, "waiting", 0, 2_000_000))
    printer(ProgressEvent("sha256:" + "b" * 64, "exists", 10, 10))
    printer(ProgressEvent("sha256:" + "a" * 64, "downloading", 1_000_000, 2_000_000))
    printer(ProgressEvent("sha256:" + "a" * 64, "done", 2_000_000, 2_000_000))
    printer.finish()


def test_progress_plain_lines_when_not_a_tty():
    from hull.cli.image import progress_printer

    out = io.StringIO()
    _events(progress_printer(out, quiet=False))
    lines = out.getvalue().splitlines()
    assert lines[0] == "bbbbbbbbbbbb: Already exists"
    assert lines[1].startswith("aaaaaaaaaaaa: Pull complete (2MB in ")
    assert len(lines) == 2  # no byte-by-byte noise in logs


def test_progress_bars_on_a_tty():
    from hull.cli.image import progress_printer
    from hull.images import ProgressEvent

    out = _Tty()
    printer = progress_printer(out, quiet=False)
    printer(ProgressEvent("sha256:" + "a" * 64, "waiting", 0, 2_000_000))
    printer(ProgressEvent("sha256:" + "a" * 64, "downloading", 1_000_000, 2_000_000))
    text = out.getvalue()
    assert "aaaaaaaaaaaa: Downloading [" + "=" * 20 + ">" in text
    assert "1MB/2MB" in text and "/s" in text
