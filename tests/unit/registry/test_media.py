"""Platforms, descriptors and media type sniffing."""

from __future__ import annotations

import json

import pytest

from hull.errors import InvalidArgument
from hull.registry import media
from hull.registry.media import Descriptor, Platform, parse_platform, platform_matches


@pytest.mark.parametrize("text,expected", [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/x86_64", Platform("linux", "amd64")),
    ("linux/aarch64", Platform("linux", "arm64")),
    ("linux/arm64/v8", Platform("linux", "arm64")),
    ("linux/arm", Platform("linux", "arm", "v7")),
    ("linux/arm/6", Platform("linux", "arm", "v6")),
    ("arm64", Platform("linux", "arm64")),
    ("Linux/AMD64", Platform("linux", "amd64")),
])
def test_parse_platform(text, expected):
    assert parse_platform(text) == expected


@pytest.mark.parametrize("text", ["", "linux/", "a/b/c/d", "/amd64"])
def test_bad_platform(text):
    with pytest.raises(InvalidArgument, match="invalid platform"):
        parse_platform(text)


def test_host_platform_is_linux():
    assert media.host_platform().os == "linux"


def test_platform_scores():
    amd64 = Platform("linux", "amd64")
    assert platform_matches(amd64, {"os": "linux", "architecture": "amd64"}) == 3
    assert platform_matches(amd64, {"os": "linux", "architecture": "x86_64"}) == 3
    assert platform_matches(amd64, {"os": "windows", "architecture": "amd64"}) == 0
    assert platform_matches(amd64, None) == 0
    v7 = Platform("linux", "arm", "v7")
    assert platform_matches(v7, {"os": "linux", "architecture": "arm", "variant": "v7"}) == 3
    assert platform_matches(v7, {"os": "linux", "architecture": "arm", "variant": "v5"}) == 1
    assert platform_matches(Platform("linux", "arm", "v6"),
                            {"os": "linux", "architecture": "arm", "variant": "v7"}) == 0


@pytest.mark.parametrize("content_type,doc,expected", [
    (media.OCI_MANIFEST, {"schemaVersion": 2, "config": {}, "layers": []}, media.OCI_MANIFEST),
    ("application/json", {"schemaVersion": 2, "mediaType": media.DOCKER_MANIFEST},
     media.DOCKER_MANIFEST),
    ("text/plain", {"schemaVersion": 2, "manifests": []}, media.OCI_INDEX),
    ("", {"schemaVersion": 2, "config": {}, "layers": []}, media.OCI_MANIFEST),
    (media.DOCKER_MANIFEST, {"schemaVersion": 1, "fsLayers": []}, media.DOCKER_SCHEMA1),
    ("application/json", {"schemaVersion": 1, "signatures": []}, media.DOCKER_SCHEMA1_SIGNED),
    (f"{media.OCI_INDEX}; charset=utf-8", {"schemaVersion": 2, "manifests": []}, media.OCI_INDEX),
])
def test_sniff(content_type, doc, expected):
    assert media.sniff_media_type(content_type, json.dumps(doc).encode()) == expected


def test_descriptor_round_trip_and_validation():
    raw = {"mediaType": media.OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": 3,
           "annotations": {"k": "v"}, "urls": ["https://x"]}
    desc = media.as_descriptor(raw)
    assert isinstance(desc, Descriptor) and desc.to_dict() == raw
    assert media.as_descriptor(desc) is desc
    for bad in ({"digest": "sha256:" + "a" * 64}, {"digest": "nocolon", "size": 1},
                {"digest": "sha256:" + "a" * 64, "size": -1}, {"digest": "sha256:x", "size": 1}):
        with pytest.raises(InvalidArgument, match="invalid layer: layer has an invalid"):
            media.as_descriptor(bad, "layer")
