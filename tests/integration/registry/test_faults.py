"""A proxy in front of a real registry breaks things on purpose: the client must cope."""

from __future__ import annotations

import pytest

from hull.errors import InvalidArgument, Unavailable
from hull.registry import RegistryClient, RegistryConfig, RetryPolicy
from hull.testing import registry as kit
from hull.testing.registry import Fault

from .conftest import REPO
from .helpers import fetch_all, sha256

pytestmark = pytest.mark.root  # starts registry daemons


@pytest.fixture
def client():
    with RegistryClient(RegistryConfig([]), platform="linux/amd64",
                        retry=RetryPolicy(initial=0.01, maximum=0.05)) as c:
        yield c


def test_interrupted_blob_resumes_with_range(client, proxy, layout):
    resolved = client.resolve(f"{proxy.host}/{REPO}:v1")
    big = max(resolved.layers, key=lambda d: d.size)
    cut = 1_000_000
    proxy.add(Fault(path_contains=f"/blobs/{big.digest}", cut_after=cut))
    with client.fetch_blob(resolved, big) as stream:
        data = b"".join(stream)
        assert stream.reconnects == 1
    assert sha256(data) == big.digest and data == kit.layout_blob(layout, big.digest)
    ranges = [h.get("Range") for m, p, h in proxy.requests if big.digest in p]
    assert ranges == [None, f"bytes={cut}-"]


def test_repeated_cuts_resume_from_the_latest_byte(client, proxy, layout):
    resolved = client.resolve(f"{proxy.host}/{REPO}:v1")
    big = max(resolved.layers, key=lambda d: d.size)
    proxy.add(Fault(path_contains=f"/blobs/{big.digest}", cut_after=700_000, count=3))
    with client.fetch_blob(resolved, big) as stream:
        data = stream.read()
        assert stream.reconnects == 3
    assert sha256(data) == big.digest
    ranges = [h.get("Range") for m, p, h in proxy.requests if big.digest in p]
    assert ranges == [None, "bytes=700000-", "bytes=1400000-", "bytes=2100000-"]


def test_blob_that_keeps_breaking_gives_up(client, proxy):
    resolved = client.resolve(f"{proxy.host}/{REPO}:v1")
    big = max(resolved.layers, key=lambda d: d.size)
    proxy.add(Fault(path_contains=f"/blobs/{big.digest}", cut_after=100, count=50))
    with client.fetch_blob(resolved, big) as stream:
        with pytest.raises(Unavailable, match=r"connection lost at byte \d+ of \d+ after 20 resumes"):
            stream.read()


def test_5xx_on_manifest_is_retried(client, proxy):
    proxy.add(Fault(path_contains="/manifests/v1", status=503, count=2))
    resolved = client.resolve(f"{proxy.host}/{REPO}:v1")
    assert resolved.manifest_digest
    manifest_requests = [p for m, p, h in proxy.requests if "/manifests/v1" in p]
    assert len(manifest_requests) == 3


def test_5xx_on_blob_is_retried(client, proxy):
    resolved = client.resolve(f"{proxy.host}/{REPO}:v1")
    proxy.add(Fault(path_contains=f"/blobs/{resolved.config.digest}", status=502))
    with client.fetch_blob(resolved, resolved.config) as stream:
        assert sha256(stream.read()) == resolved.config.digest


def test_persistent_5xx_is_unavailable(client, proxy):
    proxy.add(Fault(path_contains="/manifests/v1", status=500, count=100))
    with pytest.raises(Unavailable, match=r"answered 500: injected fault"):
        client.resolve(f"{proxy.host}/{REPO}:v1")
    assert len([p for m, p, h in proxy.requests if "/manifests/v1" in p]) == 5


def test_schema1_is_refused(client, proxy):
    # without schema 2 in Accept, distribution rewrites a Docker schema 2 image as schema 1
    proxy.accept_override = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    with pytest.raises(InvalidArgument, match="schema 1 is not supported"):
        client.resolve(f"{proxy.host}/hull-test/docker:v1")


def test_corrupt_manifest_by_digest_is_a_mismatch(client, proxy, layout):
    desc, _ = kit.layout_manifest(layout, "v1")
    proxy.add(Fault(path_contains=f"/manifests/{desc['digest']}", tamper=True))
    with pytest.raises(InvalidArgument, match=rf"manifest digest mismatch: asked for {desc['digest']}"):
        client.resolve(f"{proxy.host}/{REPO}@{desc['digest']}")


def test_corrupt_manifest_by_tag_contradicts_registry_digest(client, proxy):
    proxy.add(Fault(path_contains="/manifests/v1", tamper=True))
    with pytest.raises(InvalidArgument, match="manifest digest mismatch: .* claims sha256:"):
        client.resolve(f"{proxy.host}/{REPO}:v1")


def test_registry_that_never_answers_times_out():
    import socket

    from hull.errors import DeadlineExceeded
    with socket.socket() as listener:  # accepts connections (the backlog) but never speaks
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        with RegistryClient(RegistryConfig([]), timeout=0.3,
                            retry=RetryPolicy(attempts=2, initial=0.01)) as client:
            with pytest.raises(DeadlineExceeded, match=f"127.0.0.1:{port} did not answer in time"):
                client.resolve(f"127.0.0.1:{port}/x:1")


def test_parallel_downloads_resume_independently(client, proxy, layout):
    resolved = client.resolve(f"{proxy.host}/{REPO}:v1")
    for layer in resolved.layers:
        if layer.size > 1000:
            proxy.add(Fault(path_contains=f"/blobs/{layer.digest}", cut_after=layer.size // 3,
                            count=2))
    proxy.add(Fault(path_contains=f"/blobs/{resolved.config.digest}", status=503))
    blobs = fetch_all(client, resolved, threads=4)
    for digest, data in blobs.items():
        assert data == kit.layout_blob(layout, digest)
    resumed = [h.get("Range") for m, p, h in proxy.requests if "/blobs/" in p and h.get("Range")]
    assert len(resumed) == 2 * sum(1 for layer in resolved.layers if layer.size > 1000)
