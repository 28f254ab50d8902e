"""Mirrors from a registries.conf: used in order, falling back to the upstream."""

from __future__ import annotations

import pytest

from hull.errors import NotFound, PermissionDenied
from hull.registry import RegistryClient, RegistryConfig, RetryPolicy
from hull.testing import registry as kit

from .conftest import REPO
from .helpers import fetch_all, sha256

pytestmark = pytest.mark.root  # starts registry daemons


def _client(tmp_path, text: str) -> RegistryClient:
    conf = tmp_path / "registries.conf"
    conf.write_text(text)
    config = RegistryConfig.load(conf, certs_dir=tmp_path / "certs.d", auth_files=[])
    return RegistryClient(config, platform="linux/amd64",
                          retry=RetryPolicy(initial=0.01, maximum=0.05))


def test_mirror_that_is_down_falls_back_to_upstream(tmp_path, plain_registry):
    down = f"127.0.0.1:{kit.free_port()}"
    with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                           f'[[registry.mirror]]\nlocation = "{down}"\n') as client:
        resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
        assert resolved.endpoint.host == plain_registry.host and not resolved.endpoint.mirror
        assert len(resolved.tried) == 1 and "connection refused" in resolved.tried[0]
        assert all(sha256(d) == k for k, d in fetch_all(client, resolved).items())


def test_working_mirror_serves_manifest_and_blobs(tmp_path, plain_registry, mirror_registry):
    with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                           f'[[registry.mirror]]\nlocation = "{mirror_registry.host}"\n') as client:
        resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
        assert resolved.endpoint.host == mirror_registry.host and resolved.endpoint.mirror
        assert resolved.tried == []
        with client.fetch_blob(resolved, resolved.layers[0]) as stream:
            assert sha256(stream.read()) == resolved.layers[0].digest
            assert stream.endpoint.host == mirror_registry.host


def test_mirror_without_the_image_falls_back(tmp_path, plain_registry, mirror_registry):
    with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                           f'[[registry.mirror]]\nlocation = "{mirror_registry.host}"\n') as client:
        resolved = client.resolve(f"{plain_registry.host}/{REPO}:multi")  # not on the mirror
        assert resolved.endpoint.host == plain_registry.host
        assert "manifest unknown" in resolved.tried[0]


def test_mirrors_tried_in_order(tmp_path, plain_registry, mirror_registry):
    down = f"127.0.0.1:{kit.free_port()}"
    with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                           f'[[registry.mirror]]\nlocation = "{down}"\n'
                           f'[[registry.mirror]]\nlocation = "{mirror_registry.host}"\n') as client:
        resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
        assert resolved.endpoint.host == mirror_registry.host
        assert down in resolved.tried[0]


def test_prefix_rewrites_to_another_registry(tmp_path, plain_registry):
    with _client(tmp_path, f'[[registry]]\nprefix = "example.invalid/team"\n'
                           f'location = "{plain_registry.host}/hull-test"\n') as client:
        resolved = client.resolve("example.invalid/team/busybox:v1")
        assert resolved.endpoint.host == plain_registry.host
        assert resolved.endpoint.repository == REPO


def test_digest_only_mirror_is_skipped_for_tags(tmp_path, plain_registry, mirror_registry, layout):
    desc, _ = kit.layout_manifest(layout, "v1")
    with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                           f'[[registry.mirror]]\nlocation = "{mirror_registry.host}"\n'
                           f'pull-from-mirror = "digest-only"\n') as client:
        assert not client.resolve(f"{plain_registry.host}/{REPO}:v1").endpoint.mirror
        by_digest = client.resolve(f"{plain_registry.host}/{REPO}@{desc['digest']}")
        assert by_digest.endpoint.mirror


def test_blocked_registry_is_refused(tmp_path, plain_registry):
    with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                           f'blocked = true\n') as client:
        with pytest.raises(PermissionDenied, match="is blocked"):
            client.resolve(f"{plain_registry.host}/{REPO}:v1")


def test_all_endpoints_failing_names_them(tmp_path, plain_registry, mirror_registry):
    with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                           f'[[registry.mirror]]\nlocation = "{mirror_registry.host}"\n') as client:
        with pytest.raises(NotFound, match=rf"manifest unknown on {plain_registry.host} "
                                           rf"\(also tried mirror"):
            client.resolve(f"{plain_registry.host}/{REPO}:absent")


def test_mirror_missing_a_blob_falls_back_for_that_blob(tmp_path, plain_registry, layout):
    mirror = kit.RegistryServer().start()
    try:
        kit.push_image(layout, "v1", f"{mirror.host}/{REPO}:v1", registry=mirror)
        with _client(tmp_path, f'[[registry]]\nlocation = "{plain_registry.host}"\n'
                               f'[[registry.mirror]]\nlocation = "{mirror.host}"\n') as client:
            resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
            assert resolved.endpoint.host == mirror.host
            lost = resolved.layers[1]
            mirror_endpoint = resolved.endpoint
            resp = client.send(mirror_endpoint, "DELETE",
                               client.url(mirror_endpoint, f"blobs/{lost.digest}"),
                               what="delete a blob", scopes=[])
            resp.close()
            assert resp.status == 202
            with client.fetch_blob(resolved, lost) as stream:
                assert sha256(stream.read()) == lost.digest
                assert stream.endpoint.host == plain_registry.host
            with client.fetch_blob(resolved, resolved.layers[0]) as stream:
                assert stream.read() and stream.endpoint.host == mirror.host
    finally:
        mirror.stop()
