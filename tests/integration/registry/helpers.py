"""Shared checks for the registry integration tests."""

from __future__ import annotations

import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor

from hull.registry import RegistryClient, Resolved
from hull.testing import registry as kit


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fetch_all(client: RegistryClient, resolved: Resolved, threads: int = 4) -> dict[str, bytes]:
    """Every blob of the image, downloaded in parallel, by digest."""
    descriptors = [resolved.config, *resolved.layers]

    def fetch(desc):
        with client.fetch_blob(resolved, desc) as stream:
            return desc.digest, b"".join(stream)

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(fetch, descriptors))


def assert_matches_layout(resolved: Resolved, blobs: dict[str, bytes], layout, tag: str) -> None:
    """The pulled manifest and blobs are byte for byte what the layout holds."""
    desc, manifest = kit.layout_manifest(layout, tag)
    if json.loads(manifest).get("manifests") is None:
        assert resolved.manifest_digest == desc["digest"]
    for digest, data in blobs.items():
        assert sha256(data) == digest
        assert data == kit.layout_blob(layout, digest)


def push_layout_image(client, layout, tag, destination, **blob_options) -> tuple[str, list[str]]:
    """Push a layout's image with hull's client: (manifest digest, outcome per blob)."""
    desc, manifest = kit.layout_manifest(layout, tag)
    doc = json.loads(manifest)
    outcomes = []
    for blob in [doc["config"], *doc["layers"]]:
        outcomes.append(client.push_blob(
            destination, blob, lambda b=blob: io.BytesIO(kit.layout_blob(layout, b["digest"])),
            **blob_options))
    digest = client.push_manifest(destination, desc["mediaType"], manifest)
    assert digest == desc["digest"]
    return digest, outcomes
