"""Pulling from a plain-HTTP loopback registry: manifests, indexes, blobs, errors."""

from __future__ import annotations

import io
import json

import pytest

from hull.errors import InvalidArgument, NotFound, Unavailable
from hull.registry import RegistryClient, RegistryConfig, parse
from hull.registry import media
from hull.testing import registry as kit

from .conftest import REPO
from .helpers import assert_matches_layout, fetch_all, push_layout_image, sha256

pytestmark = pytest.mark.root  # starts registry daemons


@pytest.fixture
def client(tmp_path):
    config = RegistryConfig([], certs_dir=tmp_path / "certs.d")
    with RegistryClient(config, platform="linux/amd64") as c:
        yield c


def test_pull_oci_image_over_plain_http_on_loopback(client, plain_registry, layout):
    resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
    assert resolved.manifest_media_type == media.OCI_MANIFEST
    assert resolved.endpoint.scheme == "http"  # https tried first, loopback may fall back
    assert len(resolved.layers) == 3
    blobs = fetch_all(client, resolved)
    assert_matches_layout(resolved, blobs, layout, "v1")
    config = json.loads(blobs[resolved.config.digest])
    assert config["architecture"] == "amd64"
    assert config["config"]["Env"][-1] == "HULL_IMAGE=v1"


def test_pull_by_digest_verifies_and_keeps_digest(client, plain_registry, layout):
    desc, _ = kit.layout_manifest(layout, "v1")
    resolved = client.resolve(f"{plain_registry.host}/{REPO}@{desc['digest']}")
    assert resolved.manifest_digest == desc["digest"]
    assert resolved.ref.digest == desc["digest"] and resolved.ref.tag is None


def test_docker_schema2_manifest(client, plain_registry, layout):
    resolved = client.resolve(f"{plain_registry.host}/hull-test/docker:v1")
    assert resolved.manifest_media_type == media.DOCKER_MANIFEST
    assert resolved.config.media_type == media.DOCKER_CONFIG
    blobs = fetch_all(client, resolved)
    for digest, data in blobs.items():
        assert sha256(data) == digest


@pytest.mark.parametrize("platform,tag,arch", [("linux/amd64", "v1", "amd64"),
                                               ("linux/arm64", "arm", "arm64"),
                                               ("linux/arm64/v8", "arm", "arm64")])
def test_index_selects_platform(plain_registry, layout, platform, tag, arch):
    index_desc, _ = kit.layout_manifest(layout, "multi")
    manifest_desc, _ = kit.layout_manifest(layout, tag)
    with RegistryClient(RegistryConfig([]), platform=platform) as client:
        resolved = client.resolve(f"{plain_registry.host}/{REPO}:multi")
        assert resolved.index_digest == index_desc["digest"]
        assert resolved.index is not None and sha256(resolved.index) == index_desc["digest"]
        assert resolved.manifest_digest == manifest_desc["digest"]
        assert resolved.digest == index_desc["digest"]
        with client.fetch_blob(resolved, resolved.config) as stream:
            assert json.loads(stream.read())["architecture"] == arch


def test_index_without_the_platform_is_not_found(plain_registry):
    with RegistryClient(RegistryConfig([]), platform="linux/s390x") as client:
        with pytest.raises(NotFound, match=r"no manifest for platform linux/s390x.*linux/amd64"):
            client.resolve(f"{plain_registry.host}/{REPO}:multi")


def test_unknown_tag_repository_and_blob(client, plain_registry):
    with pytest.raises(NotFound, match=r"cannot pull image .*:nope: manifest unknown"):
        client.resolve(f"{plain_registry.host}/{REPO}:nope")
    with pytest.raises(NotFound, match="repository name not known|manifest unknown"):
        client.resolve(f"{plain_registry.host}/hull-test/absent:v1")
    resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
    missing = {"mediaType": media.OCI_CONFIG, "digest": "sha256:" + "0" * 64, "size": 10}
    with pytest.raises(NotFound, match="blob unknown"):
        client.fetch_blob(resolved, missing)


def test_digest_that_is_not_there(client, plain_registry):
    with pytest.raises(NotFound):
        client.resolve(f"{plain_registry.host}/{REPO}@sha256:{'1' * 64}")


def test_connection_refused_is_unavailable(client):
    port = kit.free_port()
    with pytest.raises(Unavailable, match=rf"cannot pull image 127.0.0.1:{port}/x:1: "
                                          rf"connection refused by 127.0.0.1:{port}"):
        client.resolve(parse(f"127.0.0.1:{port}/x:1"))


def test_blob_offset_and_iteration(client, plain_registry, layout):
    resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
    big = max(resolved.layers, key=lambda d: d.size)
    whole = kit.layout_blob(layout, big.digest)
    with client.fetch_blob(resolved, big, offset=1000) as stream:
        assert stream.size == big.size
        assert b"".join(stream) == whole[1000:]
        assert stream.position == big.size
    with client.fetch_blob(resolved, big) as stream:
        head = stream.read(10)
        rest = stream.read()
        assert head + rest == whole and stream.read(5) == b""


def test_artifact_config_is_refused(client, plain_registry, layout):
    desc, manifest = kit.layout_manifest(layout, "v1")
    doc = json.loads(manifest)
    doc["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    data = json.dumps(doc).encode()
    for blob in [doc["config"], *doc["layers"]]:
        outcome = client.push_blob(f"{plain_registry.host}/hull-test/artifact:v1", blob,
                                   lambda: io.BytesIO(kit.layout_blob(layout, blob["digest"])),
                                   mount_from=REPO)
        assert outcome in ("mounted", "exists")
    client.push_manifest(f"{plain_registry.host}/hull-test/artifact:v1", media.OCI_MANIFEST, data)
    with pytest.raises(InvalidArgument, match="not a container image config"):
        client.resolve(f"{plain_registry.host}/hull-test/artifact:v1")


def test_list_tags_follows_pages(client, plain_registry):
    assert sorted(client.list_tags(f"{plain_registry.host}/{REPO}", page_size=1)) == ["multi", "v1"]
    with pytest.raises(NotFound, match="list tags of .*hull-test/absent: repository name not known"):
        client.list_tags(f"{plain_registry.host}/hull-test/absent")


def test_cached_index_and_manifest_cost_one_head(plain_registry, layout):
    proxy = kit.FaultProxy(plain_registry).start()
    try:
        held = {}
        for tag in ("multi", "v1"):
            desc, data = kit.layout_manifest(layout, tag)
            held[desc["digest"]] = data
        with RegistryClient(RegistryConfig([]), platform="linux/amd64") as client:
            resolved = client.resolve(f"{proxy.host}/{REPO}:multi", cached=held.get)
        assert resolved.index == held[resolved.index_digest]
        assert resolved.manifest == held[resolved.manifest_digest]
        assert [(m, p) for m, p, h in proxy.requests] == [("HEAD", f"/v2/{REPO}/manifests/multi")]
    finally:
        proxy.stop()


def test_blob_shorter_than_its_descriptor_is_truncated(client, plain_registry):
    resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
    layer = resolved.layers[0]
    claims_more = {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size + 7}
    with client.fetch_blob(resolved, claims_more) as stream:
        with pytest.raises(InvalidArgument, match=rf"blob is truncated: .* no bytes past "
                                                  rf"{layer.size}, the descriptor says "
                                                  rf"{layer.size + 7}"):
            stream.read()


@pytest.mark.parametrize("tls", [False, True])
def test_ipv6_loopback_registry(layout, tls):
    reg = kit.RegistryServer(address="::1", tls=tls).start()
    try:
        ref = parse(f"{reg.host}/{REPO}:arm")
        # skopeo 1.9 cannot parse [::1] references: hull's client pushes, a fresh one pulls
        with RegistryClient(RegistryConfig([], certs_dir=reg.certs_dir)) as pusher:
            push_layout_image(pusher, layout, "arm", ref)
        assert ref.domain == reg.host and reg.host.startswith("[::1]:")
        with RegistryClient(RegistryConfig([], certs_dir=reg.certs_dir),
                            platform="linux/arm64") as client:
            resolved = client.resolve(ref)
            assert resolved.endpoint.scheme == ("https" if tls else "http")
            blobs = fetch_all(client, resolved)
        assert_matches_layout(resolved, blobs, layout, "arm")
    finally:
        reg.stop()
