"""hull.spec.image: parsing, validation, chain IDs, platform selection."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hull.spec import image as spec

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


def manifest(layer_type=spec.OCI_LAYER_GZIP, **extra) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": spec.OCI_MANIFEST,
                       "config": {"mediaType": spec.OCI_CONFIG, "digest": D1, "size": 10},
                       "layers": [{"mediaType": layer_type, "digest": D2, "size": 5}],
                       **extra}).encode()


def test_parse_manifest():
    parsed = spec.parse_manifest(manifest())
    assert parsed.config.digest == D1
    assert [layer.digest for layer in parsed.layers] == [D2]


@pytest.mark.parametrize("data,message", [
    (manifest("application/x-foo"), "unsupported layer media type"),
    (json.dumps({"schemaVersion": 1, "name": "x"}).encode(), "schema 1"),
    (b"[1]", "not a JSON object"),
    (b"{", "not valid JSON"),
    (json.dumps({"schemaVersion": 2, "mediaType": spec.OCI_MANIFEST,
                 "config": {"digest": "sha256:xyz", "size": 1}, "layers": []}).encode(),
     "invalid digest"),
])
def test_bad_manifests(data, message):
    with pytest.raises(ValueError, match=message):
        spec.parse_manifest(data)


def test_chain_ids_follow_the_spec_formula():
    import hashlib

    ids = spec.chain_ids([D1, D2])
    assert ids[0] == D1
    assert ids[1] == "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()


def test_select_manifest_by_platform():
    index = spec.Index(spec.OCI_INDEX, (
        spec.Descriptor(spec.OCI_MANIFEST, D1, 1, platform={"os": "linux", "architecture": "arm64"}),
        spec.Descriptor(spec.OCI_MANIFEST, D2, 1, platform={"os": "linux", "architecture": "amd64"}),
    ))
    assert spec.select_manifest(index, "linux/amd64").digest == D2
    with pytest.raises(ValueError, match="linux/arm64, linux/amd64|linux/amd64, linux/arm64"):
        spec.select_manifest(index, "linux/s390x")


def test_config_needs_layers_rootfs():
    with pytest.raises(ValueError, match="rootfs"):
        spec.parse_config(b'{"rootfs": {"type": "nope"}}')
    assert spec.parse_config(json.dumps({"rootfs": {"type": "layers", "diff_ids": [D1]}}).encode())


def test_spec_imports_nothing_of_hull():
    code = ("import sys, hull.spec.image; "
            "print(sorted(m for m in sys.modules if m.startswith('hull.') and m != 'hull.spec.image'"
            " and m != 'hull.spec'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module,forbidden", [
    ("hull.content", ("hull.images", "hull.snapshots", "hull.registry", "hull.cli")),
    ("hull.snapshots", ("hull.images", "hull.content", "hull.registry", "hull.cli")),
    ("hull.images", ("hull.cli", "hull.cri", "hull.registry.client")),
])
def test_layers_point_down(module, forbidden):
    code = f"import sys, {module}; print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.replace("'", '"'))
    assert [m for m in loaded if m.startswith(forbidden)] == []


def test_public_names():
    import hull.images

    assert sorted(hull.images.__all__) == ["GcReport", "Image", "ImageStore", "ProgressEvent"]
    assert all(hasattr(hull.images, name) for name in hull.images.__all__)
