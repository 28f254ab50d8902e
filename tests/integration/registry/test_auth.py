"""TLS with a test CA, htpasswd basic auth, and the bearer-token flow."""

from __future__ import annotations

import base64
import json

import pytest

from hull.errors import PermissionDenied, Unavailable
from hull.registry import Credentials, RegistryClient, RegistryConfig, RetryPolicy
from hull.registry.credentials import CredentialStore

from .conftest import PASSWORD, REPO, USER
from .helpers import fetch_all, sha256

pytestmark = pytest.mark.root  # starts registry daemons


def _client(certs_dir=None, auth_files=(), **kw) -> RegistryClient:
    config = RegistryConfig([], certs_dir=certs_dir or "/nonexistent",
                            credentials=CredentialStore(list(auth_files)))
    return RegistryClient(config, platform="linux/amd64",
                          retry=RetryPolicy(initial=0.01, maximum=0.05), **kw)


# --- TLS + htpasswd ---------------------------------------------------------

def test_tls_with_ca_and_basic_auth(tls_registry):
    with _client(tls_registry.certs_dir, credentials=Credentials(USER, PASSWORD)) as client:
        resolved = client.resolve(f"{tls_registry.host}/{REPO}:v1")
        assert resolved.endpoint.scheme == "https"
        for digest, data in fetch_all(client, resolved).items():
            assert sha256(data) == digest


def test_tls_credentials_from_docker_config(tls_registry, tmp_path):
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {f"https://{tls_registry.host}": {"auth": auth}}}))
    with _client(tls_registry.certs_dir, [config]) as client:
        assert client.resolve(f"{tls_registry.host}/{REPO}:v1").layers


def test_tls_wrong_password_is_permission_denied(tls_registry):
    with _client(tls_registry.certs_dir, credentials=Credentials(USER, "wrong")) as client:
        with pytest.raises(PermissionDenied, match=rf"{tls_registry.host} denied access \(401\): "
                                                   r"authentication required"):
            client.resolve(f"{tls_registry.host}/{REPO}:v1")


def test_tls_anonymous_is_permission_denied(tls_registry):
    with _client(tls_registry.certs_dir) as client:
        with pytest.raises(PermissionDenied, match="denied access"):
            client.resolve(f"{tls_registry.host}/{REPO}:v1")


def test_tls_unknown_ca_names_the_problem(tls_registry, tmp_path):
    with _client(tmp_path / "empty-certs.d", credentials=Credentials(USER, PASSWORD)) as client:
        with pytest.raises(Unavailable, match=r"TLS certificate of 127\.0\.0\.1:\d+ is not trusted "
                                              r"\(.*certificate.*\); put the registry's CA in "):
            client.resolve(f"{tls_registry.host}/{REPO}:v1")


def test_tls_insecure_registry_skips_verification(tls_registry, tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{tls_registry.host}"\ninsecure = true\n')
    config = RegistryConfig.load(conf, certs_dir=tmp_path / "none", auth_files=[])
    with RegistryClient(config, credentials=Credentials(USER, PASSWORD)) as client:
        resolved = client.resolve(f"{tls_registry.host}/{REPO}:v1")
        assert resolved.endpoint.scheme == "https" and resolved.endpoint.insecure


# --- bearer tokens ----------------------------------------------------------

def test_token_flow_with_basic_credentials(token_registry, token_server):
    before = len(token_server.requests)
    with _client(credentials=Credentials(USER, PASSWORD)) as client:
        resolved = client.resolve(f"{token_registry.host}/{REPO}:v1")
        blobs = fetch_all(client, resolved, threads=4)
    assert all(sha256(data) == digest for digest, data in blobs.items())
    calls = token_server.requests[before:]
    # one token for the pull scope, shared by every thread
    assert [(m, p["scope"], p["service"], user) for m, p, user in calls] == [
        ("GET", [f"repository:{REPO}:pull"], ["hull-test-registry"], USER)]


def test_token_flow_anonymous_on_public_repository(token_registry, token_server):
    with _client() as client:
        resolved = client.resolve(f"{token_registry.host}/hull-test/public:v1")
        assert fetch_all(client, resolved)
    assert token_server.requests[-1][2] == ""


def test_token_flow_anonymous_on_private_repository_is_denied(token_registry):
    with _client() as client:
        with pytest.raises(PermissionDenied, match=r"denied access \(401\): authentication required"):
            client.resolve(f"{token_registry.host}/{REPO}:v1")


def test_token_server_refuses_bad_password(token_registry):
    with _client(credentials=Credentials(USER, "nope")) as client:
        with pytest.raises(PermissionDenied, match=r"token server .* refused \(401\): "
                                                   r"incorrect username or password"):
            client.resolve(f"{token_registry.host}/{REPO}:v1")


def test_identity_token_uses_oauth2_refresh(token_registry, token_server):
    refresh = token_server._new_refresh(USER)  # what `docker login` would have stored
    before = len(token_server.requests)
    with _client(credentials=Credentials(identity_token=refresh)) as client:
        assert client.resolve(f"{token_registry.host}/{REPO}:v1").layers
    method, form, user = token_server.requests[before]
    assert method == "POST" and user == USER
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [refresh]


def test_identity_token_from_docker_config(token_registry, token_server, tmp_path):
    refresh = token_server._new_refresh(USER)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {token_registry.host: {"identitytoken": refresh}}}))
    with _client(auth_files=[config]) as client:
        assert client.resolve(f"{token_registry.host}/{REPO}:v1").layers


def test_bad_identity_token_is_denied(token_registry):
    with _client(credentials=Credentials(identity_token="not-a-token")) as client:
        with pytest.raises(PermissionDenied, match="refresh token not valid"):
            client.resolve(f"{token_registry.host}/{REPO}:v1")


def test_registry_token_is_sent_as_is(token_registry, token_server):
    token = token_server.issue(USER, [f"repository:{REPO}:pull"])["token"]
    before = len(token_server.requests)
    with _client(credentials=Credentials(registry_token=token)) as client:
        assert client.resolve(f"{token_registry.host}/{REPO}:v1").layers
    assert len(token_server.requests) == before  # no token server round trip


# --- login checks -------------------------------------------------------------

def test_check_login_basic(tls_registry):
    with _client(tls_registry.certs_dir, credentials=Credentials(USER, PASSWORD)) as client:
        assert client.check_login(tls_registry.host).scheme == "https"
    with _client(tls_registry.certs_dir, credentials=Credentials(USER, "bad")) as client:
        with pytest.raises(PermissionDenied, match=f"cannot log in to {tls_registry.host}"):
            client.check_login(tls_registry.host)


def test_check_login_token(token_registry):
    with _client(credentials=Credentials(USER, PASSWORD)) as client:
        client.check_login(token_registry.host)
    with _client(credentials=Credentials(USER, "bad")) as client:
        with pytest.raises(PermissionDenied, match="incorrect username or password"):
            client.check_login(token_registry.host)
