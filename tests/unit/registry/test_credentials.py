"""Docker-style config.json credentials."""

from __future__ import annotations

import base64
import json
import os

import pytest

from hull.errors import InvalidArgument
from hull.registry.credentials import CredentialStore, Credentials, default_auth_files


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def store(tmp_path, *docs) -> CredentialStore:
    files = []
    for i, doc in enumerate(docs):
        path = tmp_path / f"auth{i}.json"
        path.write_text(json.dumps(doc))
        files.append(path)
    return CredentialStore(files)


def test_entry_forms(tmp_path):
    s = store(tmp_path, {"auths": {
        "a.example": {"auth": b64("alice:pa:ss")},
        "https://b.example:5000/v1/": {"username": "bob", "password": "pw"},
        "c.example": {"identitytoken": "refresh-me"},
        "d.example": {"registrytoken": "bearer-me"},
        "https://index.docker.io/v1/": {"auth": b64("hub:hubpw")},
    }})
    assert s.lookup("a.example") == Credentials("alice", "pa:ss")
    assert s.lookup("b.example:5000") == Credentials("bob", "pw")
    assert s.lookup("c.example") == Credentials(identity_token="refresh-me")
    assert s.lookup("d.example") == Credentials(registry_token="bearer-me")
    assert s.lookup("docker.io") == Credentials("hub", "hubpw")
    assert s.lookup("e.example") is None


def test_namespace_keys_longest_match(tmp_path):
    s = store(tmp_path, {"auths": {"q.example": {"auth": b64("host:1")},
                                   "q.example/team": {"auth": b64("team:2")},
                                   "q.example/team/app": {"auth": b64("app:3")}}})
    assert s.lookup("q.example", "team/app").username == "app"
    assert s.lookup("q.example", "team/other").username == "team"
    assert s.lookup("q.example", "solo").username == "host"


def test_first_file_with_an_entry_wins(tmp_path):
    s = store(tmp_path, {"auths": {"x.example": {"auth": b64("first:1")}}},
              {"auths": {"x.example": {"auth": b64("second:2")},
                         "y.example": {"auth": b64("second:3")}}})
    assert s.lookup("x.example").username == "first"
    assert s.lookup("y.example").username == "second"


def test_missing_and_empty_files_are_skipped(tmp_path):
    (tmp_path / "empty.json").write_text("")
    assert CredentialStore([tmp_path / "absent.json", tmp_path / "empty.json"]).lookup("a") is None


@pytest.mark.parametrize("content,why", [
    ("{not json", "cannot read credentials file"),
    ('{"auths": {"a": {"auth": "bm9jb2xvbg=="}}}', "not base64\\(user:password\\)"),
    ('{"auths": {"a": "x"}}', "is not an object"),
    ("[]", "not a JSON object"),
])
def test_bad_files(tmp_path, content, why):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidArgument, match=why):
        CredentialStore([path]).lookup("a")


def test_credential_helper(tmp_path, monkeypatch):
    helper = tmp_path / "docker-credential-fake"
    helper.write_text('#!/bin/sh\nread server\n'
                      'if [ "$server" = "h.example" ]; then '
                      'echo \'{"ServerURL":"h.example","Username":"<token>","Secret":"idtok"}\'; '
                      'else echo "credentials not found in native keychain"; exit 1; fi\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    s = store(tmp_path, {"credHelpers": {"h.example": "fake"}, "credsStore": "fake"})
    assert s.lookup("h.example") == Credentials(identity_token="idtok")
    assert s.lookup("other.example") is None


def test_default_files_order(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/x/auth.json")
    monkeypatch.setenv("DOCKER_CONFIG", "/y")
    monkeypatch.setenv("HOME", "/home/z")
    assert [str(p) for p in default_auth_files()] == [
        "/x/auth.json", "/y/config.json", "/home/z/.docker/config.json", "/etc/hull/auth.json"]


def test_secrets_stay_out_of_repr():
    text = repr(Credentials("u", "hunter2", "idtok"))
    assert "hunter2" not in text and "idtok" not in text and "u" in text
    assert not Credentials() and Credentials(registry_token="t")


def test_store_and_remove_credentials(tmp_path):
    from hull.registry.credentials import remove_credentials, store_credentials
    path = tmp_path / "docker" / "config.json"
    store_credentials(path, "r.example:5000", Credentials("u", "p"))
    store_credentials(path, "docker.io", Credentials(identity_token="idt"))
    store_credentials(path, "https://r.example:5000", Credentials("u2", "p2"))  # replaces
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    doc = json.loads(path.read_text())
    assert doc["auths"] == {"https://index.docker.io/v1/": {"identitytoken": "idt"},
                            "https://r.example:5000": {"auth": b64("u2:p2")}}
    loaded = CredentialStore([path])
    assert loaded.lookup("r.example:5000") == Credentials("u2", "p2")
    assert remove_credentials(path, "r.example:5000") is True
    assert remove_credentials(path, "r.example:5000") is False
    assert remove_credentials(tmp_path / "absent.json", "x") is False
    assert list(json.loads(path.read_text())["auths"]) == ["https://index.docker.io/v1/"]
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temp files left
