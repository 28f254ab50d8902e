"""registries.conf parsing, endpoint selection, certs.d discovery."""

from __future__ import annotations

import pytest

from hull.errors import InvalidArgument, NotFound, PermissionDenied
from hull.registry.config import RegistryConfig, is_loopback
from hull.registry.credentials import CredentialStore
from hull.registry.reference import parse


def load(tmp_path, text: str, **kw) -> RegistryConfig:
    path = tmp_path / "registries.conf"
    path.write_text(text)
    kw.setdefault("certs_dir", tmp_path / "certs.d")
    return RegistryConfig.load(path, auth_files=[], **kw)


def hosts(config, text):
    return [(e.host, e.repository, e.mirror, e.insecure, e.http_fallback)
            for e in config.endpoints(parse(text))]


def test_no_config_means_upstream_https(tmp_path):
    config = RegistryConfig([], certs_dir=tmp_path)
    assert hosts(config, "busybox") == [("registry-1.docker.io", "library/busybox", False, False,
                                         False)]
    assert config.endpoints(parse("quay.io/a/b"))[0].base_url == "https://quay.io/v2/a/b"


@pytest.mark.parametrize("host,loopback", [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1", True), ("127.1.2.3:80", True),
    ("[::1]:5000", True), ("::1", True), ("10.0.0.1:5000", False), ("example.com", False),
    ("localhost.example.com", False), ("[2001:db8::1]:5000", False)])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_loopback_may_fall_back_to_http(tmp_path):
    config = RegistryConfig([], certs_dir=tmp_path)
    endpoint = config.endpoints(parse("127.0.0.1:5000/a"))[0]
    assert endpoint.scheme == "https" and endpoint.http_fallback and not endpoint.insecure
    assert not config.endpoints(parse("10.1.1.1:5000/a"))[0].http_fallback


def test_mirrors_first_then_upstream(tmp_path):
    config = load(tmp_path, """
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror-a.local:5000/hub"
insecure = true
[[registry.mirror]]
location = "mirror-b.local"
""")
    assert hosts(config, "busybox:1") == [
        ("mirror-a.local:5000", "hub/library/busybox", True, True, True),
        ("mirror-b.local", "library/busybox", True, False, False),
        ("registry-1.docker.io", "library/busybox", False, False, False)]


def test_prefix_rewrite_and_longest_match(tmp_path):
    config = load(tmp_path, """
[[registry]]
prefix = "example.com"
location = "upstream.example.com"
[[registry]]
prefix = "example.com/team"
location = "internal.local:5000/mirror/team"
insecure = true
""")
    assert hosts(config, "example.com/team/app:1") == [
        ("internal.local:5000", "mirror/team/app", False, True, True)]
    assert hosts(config, "example.com/other/app") == [
        ("upstream.example.com", "other/app", False, False, False)]
    # a prefix matches at a path boundary only
    assert hosts(config, "example.com/teamx/app")[0][0] == "upstream.example.com"


def test_wildcard_prefix(tmp_path):
    config = load(tmp_path, """
[[registry]]
prefix = "*.corp.example"
insecure = true
[[registry]]
prefix = "exact.corp.example"
""")
    assert hosts(config, "a.b.corp.example/x")[0][3] is True
    assert hosts(config, "exact.corp.example/x")[0][3] is False  # exact beats wildcard
    assert hosts(config, "corp.example/x")[0][3] is False


def test_blocked_registry(tmp_path):
    config = load(tmp_path, '[[registry]]\nlocation = "bad.example"\nblocked = true\n')
    with pytest.raises(PermissionDenied, match=r"cannot pull image bad.example/x:latest: "
                                               r"registry bad.example is blocked"):
        config.endpoints(parse("bad.example/x"))


def test_pull_from_mirror_modes(tmp_path):
    config = load(tmp_path, """
[[registry]]
location = "r.example"
[[registry.mirror]]
location = "digests.local"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.local"
pull-from-mirror = "tag-only"
""")
    digest = "sha256:" + "a" * 64
    assert [h[0] for h in hosts(config, "r.example/x:1")] == ["tags.local", "r.example"]
    assert [h[0] for h in hosts(config, f"r.example/x@{digest}")] == ["digests.local", "r.example"]


def test_mirror_by_digest_only(tmp_path):
    config = load(tmp_path, '[[registry]]\nlocation = "r.example"\nmirror-by-digest-only = true\n'
                            '[[registry.mirror]]\nlocation = "m.local"\n')
    assert [h[0] for h in hosts(config, "r.example/x:1")] == ["r.example"]


def test_push_goes_upstream(tmp_path):
    config = load(tmp_path, '[[registry]]\nlocation = "r.example"\n'
                            '[[registry.mirror]]\nlocation = "m.local"\n')
    assert config.push_endpoint(parse("r.example/x:1")).host == "r.example"


def test_v1_format(tmp_path):
    config = load(tmp_path, """
[registries.search]
registries = ["docker.io"]
[registries.insecure]
registries = ["10.0.0.5:5000"]
[registries.block]
registries = ["evil.example"]
""")
    assert hosts(config, "10.0.0.5:5000/a")[0][3:] == (True, True)
    with pytest.raises(PermissionDenied):
        config.endpoints(parse("evil.example/a"))


def test_drop_ins_override_by_prefix(tmp_path):
    (tmp_path / "registries.conf.d").mkdir()
    (tmp_path / "registries.conf.d" / "10-insecure.conf").write_text(
        '[[registry]]\nlocation = "r.example"\ninsecure = true\n')
    config = load(tmp_path, '[[registry]]\nlocation = "r.example"\n')
    assert hosts(config, "r.example/a")[0][3] is True


@pytest.mark.parametrize("text,why", [
    ("[[registry]\n", "cannot load registry config"),
    ('[[registry]]\ninsecure = "yes"\nlocation = "a"\n', "insecure must be true or false"),
    ("[[registry]]\ninsecure = true\n", "needs a location or a prefix"),
    ('[[registry]]\nlocation = "a"\n[[registry.mirror]]\ninsecure = true\n', "needs a location"),
    ('[[registry]]\nlocation = "a"\n[[registry.mirror]]\nlocation = "b"\n'
     'pull-from-mirror = "sometimes"\n', "pull-from-mirror"),
    ('[[registry]]\nprefix = "*.a.example"\nlocation = "b"\n', "wildcard prefix"),
    ('[registries.insecure]\nregistries = []\n[[registry]]\nlocation = "a"\n', "mixes the v1"),
])
def test_bad_config_is_invalid_argument(tmp_path, text, why):
    with pytest.raises(InvalidArgument, match=why) as caught:
        load(tmp_path, text)
    assert str(tmp_path / "registries.conf") in str(caught.value)


def test_explicit_missing_file_is_not_found(tmp_path, monkeypatch):
    with pytest.raises(NotFound, match="no such file"):
        RegistryConfig.load(tmp_path / "nope.conf")
    monkeypatch.setenv("HULL_REGISTRIES_CONF", str(tmp_path / "env.conf"))
    (tmp_path / "env.conf").write_text('[[registry]]\nlocation = "e.example"\ninsecure = true\n')
    assert RegistryConfig.load(auth_files=[]).entry_for("e.example/x").insecure


def test_certs_dir_discovery(tmp_path):
    certs = tmp_path / "certs.d" / "r.example:5000"
    certs.mkdir(parents=True)
    for name in ("ca.crt", "extra.crt", "client.cert", "client.key", "orphan.cert", "README"):
        (certs / name).write_text("x")
    config = RegistryConfig([], certs_dir=tmp_path / "certs.d")
    tls = config.endpoints(parse("r.example:5000/a"))[0].tls
    assert tls.ca_files == (str(certs / "ca.crt"), str(certs / "extra.crt"))
    assert tls.client_certs == ((str(certs / "client.cert"), str(certs / "client.key")),)
    assert config.endpoints(parse("other.example/a"))[0].tls.ca_files == ()


def test_certs_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HULL_REGISTRY_CERTS_DIR", str(tmp_path))
    assert RegistryConfig([], credentials=CredentialStore([])).certs_dir == tmp_path
