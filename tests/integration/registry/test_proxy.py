"""Pulling through an HTTP forward proxy: CONNECT for https, absolute URIs for http.

The environment never sends loopback traffic to a proxy (as Go's httpproxy),
so these tests hand the transport its proxy directly; proxy_for's reading of
HTTP(S)_PROXY/NO_PROXY is covered by the unit tests.
"""

from __future__ import annotations

import pytest

from hull.registry import Credentials, RegistryClient, RegistryConfig
from hull.registry.proxy import parse_proxy
from hull.registry.transport import HTTPTransport
from hull.testing import registry as kit

from .conftest import PASSWORD, REPO, USER
from .helpers import fetch_all, sha256

pytestmark = pytest.mark.root  # starts registry daemons


@pytest.fixture
def forward_proxy():
    proxy = kit.ForwardProxy().start()
    yield proxy
    proxy.stop()


def _client(proxy_url: str, config: RegistryConfig, **kw) -> RegistryClient:
    proxy = parse_proxy(proxy_url)
    transport = HTTPTransport(proxy=lambda scheme, netloc: proxy)
    return RegistryClient(config, transport=transport, platform="linux/amd64", **kw)


def test_https_registry_through_connect_tunnel(forward_proxy, tls_registry):
    config = RegistryConfig([], certs_dir=tls_registry.certs_dir)
    with _client(f"http://u:p%40ss@{forward_proxy.host}", config,
                 credentials=Credentials(USER, PASSWORD)) as client:
        resolved = client.resolve(f"{tls_registry.host}/{REPO}:v1")
        assert all(sha256(d) == k for k, d in fetch_all(client, resolved).items())
    connects = [r for r in forward_proxy.requests if r[0] == "CONNECT"]
    assert connects and all(r[1] == tls_registry.host for r in connects)
    assert connects[0][2] == "Basic dTpwQHNz"  # u:p@ss
    assert len(connects) == len(forward_proxy.requests)  # nothing went around the tunnel


def test_http_registry_through_forward_proxy(forward_proxy, plain_registry):
    with _client(forward_proxy.host, RegistryConfig([])) as client:
        resolved = client.resolve(f"{plain_registry.host}/{REPO}:v1")
        with client.fetch_blob(resolved, resolved.config) as stream:
            assert sha256(stream.read()) == resolved.config.digest
    gets = [r[1] for r in forward_proxy.requests if r[0] == "GET"]
    assert f"http://{plain_registry.host}/v2/{REPO}/manifests/v1" in gets
