"""Pushing with hull's client, then pulling back the same bytes."""

from __future__ import annotations

import pytest

from hull.registry import RegistryClient, RegistryConfig, Credentials, RetryPolicy
from hull.registry import media
from hull.testing import registry as kit

from .conftest import PASSWORD, USER
from .helpers import fetch_all, push_layout_image

pytestmark = pytest.mark.root  # starts registry daemons


@pytest.mark.parametrize("chunk_size", [None, 1 << 20])
def test_push_then_pull_back_equal_bytes(plain_registry, layout, chunk_size):
    repo = f"{plain_registry.host}/hull-test/pushed-{'chunked' if chunk_size else 'mono'}:v1"
    with RegistryClient(RegistryConfig([]), platform="linux/amd64") as client:
        digest, outcomes = push_layout_image(client, layout, "v1", repo, chunk_size=chunk_size)
        assert outcomes == ["uploaded"] * 4
        _, again = push_layout_image(client, layout, "v1", repo, chunk_size=chunk_size)
        assert again == ["exists"] * 4  # HEAD finds every blob
    with RegistryClient(RegistryConfig([]), platform="linux/amd64") as fresh:
        resolved = fresh.resolve(repo)
        assert resolved.manifest_digest == digest
        blobs = fetch_all(fresh, resolved)
    for blob_digest, data in blobs.items():
        assert data == kit.layout_blob(layout, blob_digest)


def test_push_index_and_pull_each_platform(plain_registry, layout):
    repo = f"{plain_registry.host}/hull-test/pushed-index"
    with RegistryClient(RegistryConfig([])) as client:
        push_layout_image(client, layout, "v1", f"{repo}:amd64")
        push_layout_image(client, layout, "arm", f"{repo}:arm64")
        index_desc, index = kit.layout_manifest(layout, "multi")
        assert client.push_manifest(f"{repo}:multi", media.OCI_INDEX, index) == index_desc["digest"]
    for platform, tag in (("linux/amd64", "v1"), ("linux/arm64", "arm")):
        with RegistryClient(RegistryConfig([]), platform=platform) as client:
            resolved = client.resolve(f"{repo}:multi")
            assert resolved.manifest_digest == kit.layout_manifest(layout, tag)[0]["digest"]


def test_push_with_token_auth_and_cross_repository_mount(token_registry, token_server, layout):
    creds = Credentials(USER, PASSWORD)
    with RegistryClient(RegistryConfig([]), credentials=creds,
                        retry=RetryPolicy(initial=0.01)) as client:
        _, first = push_layout_image(client, layout, "arm", f"{token_registry.host}/hull-test/a:1")
        assert set(first) <= {"uploaded", "exists"}
        before = len(token_server.requests)
        _, mounted = push_layout_image(client, layout, "arm", f"{token_registry.host}/hull-test/b:1",
                                        mount_from="hull-test/a")
        assert mounted == ["mounted"] * len(mounted)
        scopes = token_server.requests[before][1]["scope"]
        assert sorted(scopes) == ["repository:hull-test/a:pull", "repository:hull-test/b:pull,push"]
        resolved = client.resolve(f"{token_registry.host}/hull-test/b:1")
        assert fetch_all(client, resolved)


def test_push_to_tls_registry_with_basic_auth(tls_registry, layout):
    config = RegistryConfig([], certs_dir=tls_registry.certs_dir)
    with RegistryClient(config, credentials=Credentials(USER, PASSWORD)) as client:
        digest, _ = push_layout_image(client, layout, "arm", f"{tls_registry.host}/hull-test/c:1")
        assert client.resolve(f"{tls_registry.host}/hull-test/c@{digest}").manifest_digest == digest
