"""The client against a scripted transport: retries, auth, redirects, manifests, resume."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl

import pytest

from hull.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from hull.registry import RegistryClient, RegistryConfig, RetryPolicy, media
from hull.registry.credentials import CredentialStore, Credentials

from .fakes import FakeResponse, FakeTransport, Script, json_response, registry_error

HOST = "r.example"
BASE = f"https://{HOST}/v2/team/app"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob(data: bytes, media_type: str = "application/vnd.oci.image.layer.v1.tar+gzip") -> dict:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data)}


CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
LAYER = bytes(range(256)) * 400   # 100 KiB
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                       "config": blob(CONFIG, media.OCI_CONFIG), "layers": [blob(LAYER)]}).encode()


def manifest_response(body: bytes = MANIFEST, media_type: str = media.OCI_MANIFEST, **headers):
    return FakeResponse(200, body, {"Content-Type": media_type, **headers})


def make_client(handler, *, credentials=None, platform="linux/amd64", config=None):
    slept: list[float] = []
    transport = FakeTransport(handler)
    client = RegistryClient(config or RegistryConfig([], credentials=CredentialStore([])),
                            credentials=credentials, platform=platform, transport=transport,
                            retry=RetryPolicy(jitter=0, sleep=slept.append))
    return client, transport, slept


def test_resolve_manifest_by_tag():
    client, transport, _ = make_client(Script().on("/manifests/v1", manifest_response()))
    resolved = client.resolve(f"{HOST}/team/app:v1")
    assert resolved.manifest_digest == digest(MANIFEST) == resolved.digest
    assert resolved.layers[0].digest == digest(LAYER) and resolved.config.size == len(CONFIG)
    assert resolved.download_size == len(CONFIG) + len(LAYER)
    method, url, headers = transport.calls[0]
    assert url == f"{BASE}/manifests/v1"
    assert media.OCI_INDEX in headers["Accept"] and media.DOCKER_MANIFEST in headers["Accept"]


def test_5xx_then_success_backs_off():
    client, transport, slept = make_client(Script().on(
        "/manifests/v1", registry_error(503, "UNAVAILABLE", "busy"),
        FakeResponse(502), manifest_response()))
    client.resolve(f"{HOST}/team/app:v1")
    assert len(transport.calls) == 3 and slept == [0.2, 0.4]


def test_429_honours_retry_after():
    client, _, slept = make_client(Script().on(
        "/manifests/v1", FakeResponse(429, b"", {"Retry-After": "3"}), manifest_response()))
    client.resolve(f"{HOST}/team/app:v1")
    assert slept == [3.0]


def test_connection_reset_is_retried_refused_is_not():
    client, transport, slept = make_client(Script().on(
        "/manifests/v1", ConnectionResetError(), manifest_response()))
    client.resolve(f"{HOST}/team/app:v1")
    assert len(slept) == 1
    client, transport, slept = make_client(lambda *a: ConnectionRefusedError())
    with pytest.raises(Unavailable, match=f"cannot pull image {HOST}/team/app:v1: "
                                          f"connection refused by {HOST}"):
        client.resolve(f"{HOST}/team/app:v1")
    assert len(transport.calls) == 1 and slept == []


def test_gives_up_after_the_policy_attempts():
    client, transport, slept = make_client(lambda *a: registry_error(500, "X", "boom"))
    with pytest.raises(Unavailable, match=f"{HOST} answered 500: boom"):
        client.resolve(f"{HOST}/team/app:v1")
    assert len(transport.calls) == 5 and len(slept) == 4


def test_bearer_challenge_flow():
    challenge = {"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="svc"'}

    def handler(method, url, headers, body):
        if url.startswith("https://auth.example/token"):
            assert headers["Authorization"].startswith("Basic ")
            return json_response(200, {"token": "T"})
        if headers.get("Authorization") != "Bearer T":
            return registry_error(401, "UNAUTHORIZED", "authentication required").__class__(
                401, b"{}", challenge)
        return manifest_response()

    client, transport, _ = make_client(handler, credentials=Credentials("u", "p"))
    client.resolve(f"{HOST}/team/app:v1")
    client.resolve(f"{HOST}/team/app:v1")  # the second pull reuses the token at once
    urls = [u.split("?")[0] for _, u, _ in transport.calls]
    assert urls == [f"{BASE}/manifests/v1", "https://auth.example/token",
                    f"{BASE}/manifests/v1", f"{BASE}/manifests/v1"]
    assert "scope=repository%3Ateam%2Fapp%3Apull" in transport.calls[1][1]


def test_persistent_401_is_permission_denied_with_registry_message():
    response = lambda *a: FakeResponse(  # noqa: E731
        401, json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "no way"}]}).encode(),
        {"WWW-Authenticate": 'Basic realm="x"'})
    client, transport, _ = make_client(response, credentials=Credentials("u", "p"))
    with pytest.raises(PermissionDenied, match=rf"{HOST} denied access \(401\): no way"):
        client.resolve(f"{HOST}/team/app:v1")
    assert transport.calls[1][2]["Authorization"] == "Basic dTpw"


def test_redirect_to_other_host_drops_authorization():
    def handler(method, url, headers, body):
        if "/blobs/" in url:
            return FakeResponse(307, b"", {"Location": "https://cdn.example/blob?sig=1"})
        if url.startswith("https://cdn.example/"):
            assert "Authorization" not in headers
            return FakeResponse(200, LAYER, {"Content-Length": str(len(LAYER))})
        return manifest_response()

    client, transport, _ = make_client(handler, credentials=Credentials(registry_token="RT"))
    client.auth.learn(HOST, 'Bearer realm="https://auth.example/token"')
    resolved = client.resolve(f"{HOST}/team/app:v1")
    with client.fetch_blob(resolved, resolved.layers[0]) as stream:
        assert stream.read() == LAYER
    blob_call, cdn_call = transport.calls[-2:]
    assert blob_call[2]["Authorization"] == "Bearer RT"
    assert cdn_call[1] == "https://cdn.example/blob?sig=1"


def test_https_falls_back_to_http_on_loopback_only():
    def handler(method, url, headers, body):
        if url.startswith("https:"):
            error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
            error.reason = "WRONG_VERSION_NUMBER"
            return error
        return manifest_response()

    client, transport, _ = make_client(handler)
    resolved = client.resolve("127.0.0.1:5000/a:1")
    assert resolved.endpoint.scheme == "http"
    assert [u.split(":")[0] for _, u, _ in transport.calls] == ["https", "http"]
    client.resolve("127.0.0.1:5000/a:1")
    assert transport.calls[-1][1].startswith("http://")  # remembered
    with pytest.raises(Unavailable, match="TLS handshake with 10.0.0.1:5000 failed"):
        client.resolve("10.0.0.1:5000/a:1")


def test_untrusted_certificate_message():
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "unable to get local issuer certificate"
    client, _, _ = make_client(lambda *a: error)
    with pytest.raises(Unavailable, match=r"TLS certificate of r.example is not trusted \(unable "
                                          r"to get local issuer certificate\); put the registry's "
                                          r"CA in .*/r.example/ca.crt"):
        client.resolve(f"{HOST}/team/app:v1")


@pytest.mark.parametrize("body,content_type", [
    (json.dumps({"schemaVersion": 1, "name": "a", "fsLayers": [], "signatures": []}).encode(),
     "application/json"),
    (json.dumps({"schemaVersion": 1, "name": "a", "fsLayers": []}).encode(), media.DOCKER_SCHEMA1),
])
def test_schema1_refused(body, content_type):
    client, _, _ = make_client(Script().on("/manifests/", manifest_response(body, content_type)))
    with pytest.raises(InvalidArgument, match="schema 1 is not supported"):
        client.resolve(f"{HOST}/team/app:v1")


def test_unsupported_media_type():
    client, _, _ = make_client(Script().on("/manifests/", manifest_response(
        b'{"schemaVersion": 2, "mediaType": "application/vnd.example.thing+json"}',
        "application/vnd.example.thing+json")))
    with pytest.raises(InvalidArgument, match="unsupported manifest media type "
                                              "'application/vnd.example.thing\\+json'"):
        client.resolve(f"{HOST}/team/app:v1")


def test_digest_mismatches():
    wanted = "sha256:" + "a" * 64
    client, _, _ = make_client(Script().on("/manifests/", manifest_response()))
    with pytest.raises(InvalidArgument, match=f"manifest digest mismatch: asked for {wanted}, "
                                              f"{HOST} sent content with digest {digest(MANIFEST)}"):
        client.resolve(f"{HOST}/team/app@{wanted}")
    client, _, _ = make_client(Script().on("/manifests/", manifest_response(
        **{"Docker-Content-Digest": wanted})))
    with pytest.raises(InvalidArgument, match=f"claims {wanted}"):
        client.resolve(f"{HOST}/team/app:v1")


def index_for(*platforms) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [
        {**blob(MANIFEST, media.OCI_MANIFEST), "platform": p} for p in platforms]}).encode()


@pytest.mark.parametrize("wanted,platforms,index", [
    ("linux/amd64", [{"os": "linux", "architecture": "arm64"},
                     {"os": "linux", "architecture": "amd64"}], 1),
    ("linux/arm64", [{"os": "linux", "architecture": "arm64", "variant": "v8"}], 0),
    ("linux/arm/v7", [{"os": "linux", "architecture": "arm", "variant": "v6"},
                      {"os": "linux", "architecture": "arm", "variant": "v7"}], 1),
    ("linux/arm/v7", [{"os": "linux", "architecture": "arm", "variant": "v6"}], 0),
    ("linux/amd64", [{"os": "unknown", "architecture": "unknown"},
                     {"os": "linux", "architecture": "amd64"}], 1),
])
def test_platform_selection(wanted, platforms, index):
    body = index_for(*platforms)
    client, transport, _ = make_client(Script()
                                       .on("/manifests/multi", manifest_response(body, media.OCI_INDEX))
                                       .on(f"/manifests/{digest(MANIFEST)}", manifest_response()),
                                       platform=wanted)
    resolved = client.resolve(f"{HOST}/team/app:multi")
    assert resolved.index_digest == digest(body) == resolved.digest
    assert resolved.manifest_digest == digest(MANIFEST)
    assert resolved.index == body and resolved.index_media_type == media.OCI_INDEX


def test_no_matching_platform():
    body = index_for({"os": "linux", "architecture": "arm64"}, {"os": "windows",
                                                                "architecture": "amd64"})
    client, _, _ = make_client(Script().on("/manifests/", manifest_response(body, media.OCI_INDEX)),
                               platform="linux/amd64")
    with pytest.raises(NotFound, match=r"no manifest for platform linux/amd64 \(the index offers "
                                       r"linux/arm64, windows/amd64\)"):
        client.resolve(f"{HOST}/team/app:multi")


def test_child_manifest_size_is_checked():
    entry = {**blob(MANIFEST, media.OCI_MANIFEST), "platform": {"os": "linux",
                                                               "architecture": "amd64"}}
    entry["size"] += 1
    body = json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode()
    client, _, _ = make_client(Script().on("/manifests/multi", manifest_response(body, media.OCI_INDEX))
                               .on("/manifests/sha256", manifest_response()))
    with pytest.raises(InvalidArgument, match="its descriptor says"):
        client.resolve(f"{HOST}/team/app:multi")


def test_not_found_message():
    client, _, _ = make_client(Script().on("/manifests/", registry_error(
        404, "MANIFEST_UNKNOWN", "manifest unknown")))
    with pytest.raises(NotFound, match=f"cannot pull image {HOST}/team/app:v9: manifest unknown "
                                       f"on {HOST}"):
        client.resolve(f"{HOST}/team/app:v9")


# --- blob streams ------------------------------------------------------------

def blob_handler(cuts: list[int], honour_range: bool = True, log: list | None = None):
    """Serve LAYER; the n-th request is cut after cuts[n] bytes of its body."""
    def handler(method, url, headers, body):
        if "/manifests/" in url:
            return manifest_response()
        start = int(headers.get("Range", "bytes=0-")[6:-1]) if honour_range else 0
        if log is not None:
            log.append(headers.get("Range"))
        data = LAYER[start:]
        status = 206 if start and honour_range else 200
        extra = {"Content-Range": f"bytes {start}-{len(LAYER) - 1}/{len(LAYER)}"} if status == 206 \
            else {}
        return FakeResponse(status, data, extra, fail_after=cuts.pop(0) if cuts else None)
    return handler


def test_blob_resumes_with_range_after_cuts():
    ranges: list = []
    client, _, slept = make_client(blob_handler([1000, 5000], log=ranges))
    resolved = client.resolve(f"{HOST}/team/app:v1")
    with client.fetch_blob(resolved, resolved.layers[0]) as stream:
        assert stream.read() == LAYER
        assert stream.reconnects == 2 and stream.position == len(LAYER)
    assert ranges == [None, "bytes=1000-", "bytes=6000-"]
    assert slept == [0.2, 0.2]  # progress in between resets the backoff


def test_blob_resume_when_server_ignores_range():
    client, _, _ = make_client(blob_handler([30000], honour_range=False))
    resolved = client.resolve(f"{HOST}/team/app:v1")
    with client.fetch_blob(resolved, resolved.layers[0]) as stream:
        assert b"".join(stream) == LAYER


def test_blob_offset_asks_for_a_range():
    ranges: list = []
    client, _, _ = make_client(blob_handler([], log=ranges))
    resolved = client.resolve(f"{HOST}/team/app:v1")
    with client.fetch_blob(resolved, resolved.layers[0], offset=100) as stream:
        assert stream.read() == LAYER[100:]
    assert ranges == ["bytes=100-"]


def test_blob_never_reads_past_its_size():
    def handler(method, url, headers, body):
        if "/manifests/" in url:
            return manifest_response()
        return FakeResponse(200, LAYER + b"trailing garbage")

    client, _, _ = make_client(handler)
    resolved = client.resolve(f"{HOST}/team/app:v1")
    with client.fetch_blob(resolved, resolved.layers[0]) as stream:
        assert stream.read() == LAYER and stream.read(10) == b""


def test_blob_that_never_makes_progress_fails():
    def handler(method, url, headers, body):
        if "/manifests/" in url:
            return manifest_response()
        return FakeResponse(200, LAYER, fail_after=0, error=ConnectionResetError())

    client, _, slept = make_client(handler)
    resolved = client.resolve(f"{HOST}/team/app:v1")
    with client.fetch_blob(resolved, resolved.layers[0]) as stream:
        with pytest.raises(Unavailable, match=r"connection lost at byte 0 of 102400"):
            stream.read()
    assert slept == [0.2, 0.4, 0.8, 1.6]


def test_blob_from_the_endpoint_that_served_the_manifest(tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{HOST}"\n[[registry.mirror]]\n'
                    f'location = "m.example"\n')
    config = RegistryConfig.load(conf, auth_files=[], certs_dir=tmp_path)

    def handler(method, url, headers, body):
        if url.startswith("https://m.example/") and "/manifests/" in url:
            return manifest_response()
        if url.startswith("https://m.example/"):
            return registry_error(404, "BLOB_UNKNOWN", "blob unknown")  # mirror lacks the blob
        return FakeResponse(200, LAYER)

    client, transport, _ = make_client(handler, config=config)
    resolved = client.resolve(f"{HOST}/team/app:v1")
    assert resolved.endpoint.mirror
    with client.fetch_blob(resolved, resolved.layers[0]) as stream:
        assert stream.read() == LAYER and not stream.endpoint.mirror
    assert [u.split("/")[2] for _, u, _ in transport.calls] == ["m.example", "m.example", HOST]


def test_incomplete_read_type_is_handled():
    assert issubclass(http.client.IncompleteRead, http.client.HTTPException)


def test_explicit_credentials_never_go_to_a_mirror(tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{HOST}"\n[[registry.mirror]]\n'
                    f'location = "m.example"\n')
    config = RegistryConfig.load(conf, auth_files=[], certs_dir=tmp_path)
    basic = {"WWW-Authenticate": 'Basic realm="x"'}

    def handler(method, url, headers, body):
        if "Authorization" not in headers:
            return FakeResponse(401, b"{}", basic)
        return manifest_response()

    client, transport, _ = make_client(handler, config=config, credentials=Credentials("u", "p"))
    resolved = client.resolve(f"{HOST}/team/app:v1")
    assert not resolved.endpoint.mirror  # the mirror wanted credentials it was not given
    sent = [(u.split("/")[2], h.get("Authorization")) for _, u, h in transport.calls]
    assert sent == [("m.example", None), ("m.example", None), (HOST, None), (HOST, "Basic dTpw")]


def test_list_tags_pages():
    client, transport, _ = make_client(Script()
        .on("tags/list?n=2", json_response(200, {"name": "team/app", "tags": ["a", "b"]},
                                           {"Link": '</v2/team/app/tags/list?n=2&last=b>; rel="next"'}))
        .on("last=b", json_response(200, {"name": "team/app", "tags": ["c"]})))
    assert client.list_tags(f"{HOST}/team/app", page_size=2) == ["a", "b", "c"]
    assert transport.calls[1][1] == f"https://{HOST}/v2/team/app/tags/list?n=2&last=b"


def test_other_tls_failures_do_not_fall_back_to_http():
    def handler(method, url, headers, body):
        error = ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version")
        error.reason = "TLSV1_ALERT_PROTOCOL_VERSION"
        return error if url.startswith("https:") else manifest_response()

    client, transport, _ = make_client(handler)
    with pytest.raises(Unavailable, match="TLS handshake with 127.0.0.1:5000 failed: "
                                          "TLSV1_ALERT_PROTOCOL_VERSION"):
        client.resolve("127.0.0.1:5000/a:1")
    assert all(u.startswith("https:") for _, u, _ in transport.calls)


def test_resolve_with_cached_manifest_sends_only_a_head():
    def handler(method, url, headers, body):
        assert method == "HEAD", "a cached manifest must not be fetched again"
        return FakeResponse(200, b"", {"Docker-Content-Digest": digest(MANIFEST),
                                       "Content-Type": media.OCI_MANIFEST})

    client, transport, _ = make_client(handler)
    asked = []
    resolved = client.resolve(f"{HOST}/team/app:v1",
                              cached=lambda d: asked.append(d) or MANIFEST)
    assert resolved.manifest_digest == digest(MANIFEST) and asked == [digest(MANIFEST)]
    assert [m for m, _, _ in transport.calls] == ["HEAD"]


def test_resolve_with_cache_miss_gets_the_manifest():
    client, transport, _ = make_client(Script().on("/manifests/v1", lambda m, u, h, b: (
        FakeResponse(200, b"", {"Docker-Content-Digest": digest(MANIFEST)}) if m == "HEAD"
        else manifest_response()), manifest_response()))
    resolved = client.resolve(f"{HOST}/team/app:v1", cached=lambda d: None)
    assert resolved.manifest == MANIFEST
    assert [m for m, _, _ in transport.calls] == ["HEAD", "GET"]


def test_docker_manifest_list_is_followed():
    docker_manifest = json.dumps({"schemaVersion": 2, "mediaType": media.DOCKER_MANIFEST,
                                  "config": blob(CONFIG, media.DOCKER_CONFIG),
                                  "layers": [blob(LAYER, "application/vnd.docker.image.rootfs."
                                                         "diff.tar.gzip")]}).encode()
    listing = json.dumps({"schemaVersion": 2, "mediaType": media.DOCKER_MANIFEST_LIST,
                          "manifests": [{**blob(docker_manifest, media.DOCKER_MANIFEST),
                                         "platform": {"os": "linux", "architecture": "amd64"}}]
                          }).encode()
    client, _, _ = make_client(Script()
                               .on("/manifests/v1", manifest_response(listing,
                                                                      media.DOCKER_MANIFEST_LIST))
                               .on("/manifests/sha256:", manifest_response(docker_manifest,
                                                                           media.DOCKER_MANIFEST)))
    resolved = client.resolve(f"{HOST}/team/app:v1")
    assert resolved.index_media_type == media.DOCKER_MANIFEST_LIST
    assert resolved.manifest_media_type == media.DOCKER_MANIFEST
    assert resolved.config.media_type == media.DOCKER_CONFIG


def test_token_server_5xx_is_retried():
    challenge = {"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="svc"'}
    token_answers = [FakeResponse(503), ConnectionResetError(), json_response(200, {"token": "T"})]

    def handler(method, url, headers, body):
        if url.startswith("https://auth.example/"):
            return token_answers.pop(0)
        if headers.get("Authorization") != "Bearer T":
            return FakeResponse(401, b"{}", challenge)
        return manifest_response()

    client, _, slept = make_client(handler)
    client.resolve(f"{HOST}/team/app:v1")
    assert token_answers == [] and slept == [0.2, 0.4]


def test_truncated_blob_is_named():
    short = LAYER[:-100]

    def handler(method, url, headers, body):
        if "/manifests/" in url:
            return manifest_response()
        if headers.get("Range"):
            return registry_error(416, "RANGE_INVALID", "requested range not satisfiable")
        return FakeResponse(200, short)

    client, _, _ = make_client(handler)
    resolved = client.resolve(f"{HOST}/team/app:v1")
    with client.fetch_blob(resolved, resolved.layers[0]) as stream:
        with pytest.raises(InvalidArgument, match=rf"blob is truncated: {HOST} has no bytes past "
                                                  rf"{len(short)}, the descriptor says {len(LAYER)}"):
            stream.read()


def test_expired_token_is_replaced_once():
    challenge = {"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="svc"'}
    issued = []
    valid = set()

    def handler(method, url, headers, body):
        if url.startswith("https://auth.example/"):
            token = f"T{len(issued) + 1}"
            issued.append(token)
            valid.clear()
            valid.add(token)  # the newest token only: older ones have "expired"
            return json_response(200, {"token": token, "expires_in": 3600})
        if headers.get("Authorization", "")[7:] not in valid:
            return FakeResponse(401, b"{}", challenge)
        return manifest_response()

    client, transport, _ = make_client(handler)
    client.resolve(f"{HOST}/team/app:v1")
    valid.clear()  # the server forgets T1 although its expires_in has not run out
    client.resolve(f"{HOST}/team/app:v1")
    assert issued == ["T1", "T2"]
    assert transport.calls[-1][2]["Authorization"] == "Bearer T2"


def test_unknown_host_is_unavailable():
    # a fake resolver failure: a real lookup would send a DNS query off the machine
    client, transport, slept = make_client(
        lambda *a: socket.gaierror(-2, "Name or service not known"))
    with pytest.raises(Unavailable, match=f"cannot pull image {HOST}/team/app:v1: unknown registry "
                                          f"host {HOST} \\(Name or service not known\\)"):
        client.resolve(f"{HOST}/team/app:v1")
    assert len(transport.calls) == 1 and slept == []


def test_push_retries_a_failed_upload_from_the_start():
    uploads = []

    def handler(method, url, headers, body):
        if method == "HEAD":
            return registry_error(404, "BLOB_UNKNOWN", "blob unknown")
        if method == "POST":
            return FakeResponse(202, b"", {"Location": f"/v2/team/app/blobs/uploads/{len(uploads)}"})
        if method == "PUT":
            uploads.append(body.read())
            if len(uploads) == 1:
                return registry_error(503, "UNAVAILABLE", "try later")
            return FakeResponse(201, b"", {"Location": "/v2/team/app/blobs/x"})
        raise AssertionError(method)

    client, transport, slept = make_client(handler)
    import io
    assert client.push_blob(f"{HOST}/team/app:v1", blob(LAYER),
                            lambda: io.BytesIO(LAYER)) == "uploaded"
    assert uploads == [LAYER, LAYER] and slept == [0.2]
    puts = [u for m, u, _ in transport.calls if m == "PUT"]
    assert puts[1].startswith(f"https://{HOST}/v2/team/app/blobs/uploads/1?digest=sha256%3A")


def test_push_source_that_cannot_be_opened():
    def handler(method, url, headers, body):
        if method == "HEAD":
            return registry_error(404, "BLOB_UNKNOWN", "blob unknown")
        return FakeResponse(202, b"", {"Location": "/v2/team/app/blobs/uploads/1"})

    def missing():
        raise FileNotFoundError(2, "No such file or directory", "/store/blob")

    client, _, _ = make_client(handler)
    with pytest.raises(NotFound, match="cannot open the source: No such file"):
        client.push_blob(f"{HOST}/team/app:v1", blob(LAYER), missing)
