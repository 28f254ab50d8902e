"""WWW-Authenticate parsing and the token flow, against a fake token server."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from hull.errors import PermissionDenied, Unavailable
from hull.registry.auth import Authenticator, Challenge, parse_challenges
from hull.registry.credentials import Credentials


@pytest.mark.parametrize("header,expected", [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
     'scope="repository:samalba/my-app:pull,push"',
     [Challenge("bearer", {"realm": "https://auth.docker.io/token",
                           "service": "registry.docker.io",
                           "scope": "repository:samalba/my-app:pull,push"})]),
    ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
    ('Basic realm="a", Bearer realm="https://t/x", service=svc',
     [Challenge("basic", {"realm": "a"}), Challenge("bearer", {"realm": "https://t/x",
                                                                "service": "svc"})]),
    ('BEARER Realm = "x y" , Service="s"', [Challenge("bearer", {"realm": "x y", "service": "s"})]),
    ('Bearer realm="quo\\"ted\\\\", error="insufficient_scope"',
     [Challenge("bearer", {"realm": 'quo"ted\\', "error": "insufficient_scope"})]),
    ("Negotiate abc123==", [Challenge("negotiate", {})]),
    ("", []),
    ('Bearer realm="unterminated', [Challenge("bearer", {"realm": "unterminated"})]),
])
def test_parse_challenges(header, expected):
    assert parse_challenges(header) == expected


class TokenServer:
    def __init__(self, status=200, lifetime=300):
        self.calls = []
        self.status, self.lifetime, self.count = status, lifetime, 0

    def __call__(self, method, url, headers, body):
        self.calls.append((method, url, headers, body))
        self.count += 1
        if self.status != 200:
            return self.status, {}, json.dumps({"details": "go away"}).encode()
        return 200, {}, json.dumps({"token": f"tok{self.count}",
                                    "expires_in": self.lifetime}).encode()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


BEARER = 'Bearer realm="https://auth.example/token",service="reg"'


def test_anonymous_until_challenged():
    auth = Authenticator(TokenServer(), lambda h, r: None)
    assert auth.authorization("r.example", "a/b", ["repository:a/b:pull"]) is None


def test_bearer_token_with_basic_credentials_is_cached_per_scope():
    server, clock = TokenServer(), Clock()
    auth = Authenticator(server, lambda h, r: Credentials("u", "p"), clock)
    assert auth.learn("r.example", BEARER)
    assert not auth.learn("r.example", BEARER)  # nothing new the second time
    scope = ["repository:a/b:pull"]
    assert auth.authorization("r.example", "a/b", scope) == "Bearer tok1"
    assert auth.authorization("r.example", "a/b", scope) == "Bearer tok1"
    assert auth.authorization("r.example", "a/c", ["repository:a/c:pull"]) == "Bearer tok2"
    method, url, headers, _ = server.calls[0]
    query = parse_qs(urlsplit(url).query)
    assert method == "GET" and url.startswith("https://auth.example/token?")
    assert query["service"] == ["reg"] and query["scope"] == scope and query["account"] == ["u"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


def test_token_renewed_after_expiry():
    server, clock = TokenServer(lifetime=120), Clock()
    auth = Authenticator(server, lambda h, r: None, clock)
    auth.learn("r.example", BEARER)
    assert auth.authorization("r.example", "a", ["s"]) == "Bearer tok1"
    clock.now += 100
    assert auth.authorization("r.example", "a", ["s"]) == "Bearer tok1"
    clock.now += 20  # within the renewal margin
    assert auth.authorization("r.example", "a", ["s"]) == "Bearer tok2"
    assert "Authorization" not in server.calls[0][2]  # anonymous token request


def test_forget_tokens_forces_a_new_one():
    server = TokenServer()
    auth = Authenticator(server, lambda h, r: None)
    auth.learn("r.example", BEARER)
    auth.authorization("r.example", "a", ["s"])
    auth.forget_tokens("r.example")
    assert auth.authorization("r.example", "a", ["s"]) == "Bearer tok2"


def test_challenge_scope_is_merged():
    server = TokenServer()
    auth = Authenticator(server, lambda h, r: None)
    auth.learn("r.example", BEARER + ',scope="repository:x:pull"')
    auth.authorization("r.example", "a", ["repository:a:pull"])
    query = parse_qs(urlsplit(server.calls[0][1]).query)
    assert sorted(query["scope"]) == ["repository:a:pull", "repository:x:pull"]


def test_identity_token_posts_refresh_grant():
    server = TokenServer()
    auth = Authenticator(server, lambda h, r: Credentials(identity_token="refresh"))
    auth.learn("r.example", BEARER)
    assert auth.authorization("r.example", "a", ["repository:a:pull"]) == "Bearer tok1"
    method, url, headers, body = server.calls[0]
    form = parse_qs(body.decode())
    assert method == "POST" and url == "https://auth.example/token"
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["refresh"]
    assert form["scope"] == ["repository:a:pull"] and form["service"] == ["reg"]


def test_basic_challenge_and_registry_token():
    auth = Authenticator(TokenServer(), lambda h, r: Credentials("u", "p"))
    auth.learn("r.example", 'Basic realm="x"')
    assert auth.authorization("r.example", "a", []) == "Basic dTpw"
    fixed = Authenticator(TokenServer(), lambda h, r: Credentials(registry_token="rt"))
    fixed.learn("r.example", BEARER)
    assert fixed.authorization("r.example", "a", []) == "Bearer rt"


def test_basic_challenge_without_credentials_stays_anonymous():
    auth = Authenticator(TokenServer(), lambda h, r: None)
    auth.learn("r.example", 'Basic realm="x"')
    assert auth.authorization("r.example", "a", []) is None


def test_token_server_refusal_and_failure():
    auth = Authenticator(TokenServer(status=401), lambda h, r: Credentials("u", "bad"))
    auth.learn("r.example", BEARER)
    with pytest.raises(PermissionDenied, match=r"cannot authenticate to r.example: token server "
                                               r"https://auth.example/token refused \(401\): go away"):
        auth.authorization("r.example", "a", [])
    broken = Authenticator(TokenServer(status=500), lambda h, r: None)
    broken.learn("r.example", BEARER)
    with pytest.raises(Unavailable, match="answered 500"):
        broken.authorization("r.example", "a", [])


def test_bearer_without_realm():
    auth = Authenticator(TokenServer(), lambda h, r: None)
    auth.learn("r.example", 'Bearer service="x"')
    with pytest.raises(PermissionDenied, match="without realm"):
        auth.authorization("r.example", "a", [])


def test_one_token_request_for_many_threads():
    import threading
    import time as _time
    server = TokenServer()

    def slow(*args):
        _time.sleep(0.05)
        return server(*args)

    auth = Authenticator(slow, lambda h, r: None)
    auth.learn("r.example", BEARER)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        auth.authorization("r.example", "a", ["s"]))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["Bearer tok1"] * 8 and server.count == 1
