"""Pushing: blob uploads (monolithic or chunked, existence check, cross-repo
mount) and manifests, per the OCI distribution spec's push section."""

from __future__ import annotations

import logging
from typing import Any, Callable
from urllib.parse import urlencode, urljoin

from hull.errors import Internal, InvalidArgument, Unavailable, from_oserror
from hull.registry.auth import repository_scope
from hull.registry.media import Descriptor
from hull.registry.reference import Reference

log = logging.getLogger(__name__)


def _scopes(client, endpoint, mount_repository: str | None = None) -> list[str]:
    scopes = [repository_scope(endpoint.repository, "pull,push")]
    if mount_repository:
        scopes.append(repository_scope(mount_repository))
    return scopes


def _location(resp, base_url: str, what: str) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise Internal(f"cannot {what}: registry answered {resp.status} without a Location")
    return urljoin(base_url, location)


def _with_query(url: str, **params) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def blob_exists(client, endpoint, ref: Reference, digest: str) -> bool:
    what = f"push image {ref}: blob {digest}"
    resp = client.send(endpoint, "HEAD", client.url(endpoint, f"blobs/{digest}"), what=what,
                       scopes=_scopes(client, endpoint))
    resp.close()
    if resp.status == 200:
        return True
    if resp.status == 404:
        return False
    raise client.status_error(resp, what, endpoint)


def push_blob(client, ref: Reference, desc: Descriptor, open_reader: Callable[[], Any], *,
              mount_from: str | None = None, chunk_size: int | None = None) -> str:
    endpoint = client.config.push_endpoint(ref)
    what = f"push image {ref}: blob {desc.digest}"
    if blob_exists(client, endpoint, ref, desc.digest):
        return "exists"
    mount_repository = None
    if mount_from:
        # a full name on this registry ("host/path") or a path on it ("team/app")
        own = f"{ref.domain}/"
        mount_repository = mount_from[len(own):] if mount_from.startswith(own) else mount_from
    start = client.url(endpoint, "blobs/uploads/")
    if mount_repository:
        start = _with_query(start, mount=desc.digest, **{"from": mount_repository})
    scopes = _scopes(client, endpoint, mount_repository)
    attempt = 0
    while True:
        attempt += 1
        resp = client.send(endpoint, "POST", start, what=what, scopes=scopes,
                           headers={"Content-Length": "0"}, body=b"")
        if resp.status == 201 and mount_repository:
            resp.close()
            return "mounted"
        if resp.status != 202:
            raise client.status_error(resp, what, endpoint)
        resp.close()
        location = _location(resp, start, what)
        try:
            if chunk_size and desc.size > chunk_size:
                _upload_chunked(client, endpoint, location, desc, open_reader, chunk_size, what,
                                scopes)
            else:
                _upload_monolithic(client, endpoint, location, desc, open_reader, what, scopes)
            return "uploaded"
        except Unavailable as e:
            if attempt >= client.retry.attempts:
                raise
            log.info("upload of %s failed (%s); starting it again", desc.digest, e)
            client.retry.wait(attempt)


def _open_source(open_reader: Callable[[], Any], what: str):
    try:
        return open_reader()
    except OSError as e:
        raise from_oserror(e, f"cannot {what}: cannot open the source") from e


def _upload_monolithic(client, endpoint, location, desc, open_reader, what, scopes) -> None:
    reader = _open_source(open_reader, what)
    try:
        resp = client.send(endpoint, "PUT", _with_query(location, digest=desc.digest), what=what,
                           scopes=scopes, body=reader, retry=False,
                           headers={"Content-Type": "application/octet-stream",
                                    "Content-Length": str(desc.size)})
    finally:
        close = getattr(reader, "close", None)
        if close:
            close()
    _expect_created(client, resp, what, endpoint)


def _upload_chunked(client, endpoint, location, desc, open_reader, chunk_size, what, scopes):
    reader = _open_source(open_reader, what)
    try:
        offset = 0
        while offset < desc.size:
            chunk = reader.read(min(chunk_size, desc.size - offset))
            if not chunk:
                raise InvalidArgument(f"cannot {what}: source ended at {offset} of {desc.size}")
            resp = client.send(endpoint, "PATCH", location, what=what, scopes=scopes, body=chunk,
                               headers={"Content-Type": "application/octet-stream",
                                        "Content-Length": str(len(chunk)),
                                        "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
            if resp.status != 202:
                raise client.status_error(resp, what, endpoint)
            resp.close()
            location = _location(resp, location, what)
            offset += len(chunk)
    finally:
        close = getattr(reader, "close", None)
        if close:
            close()
    resp = client.send(endpoint, "PUT", _with_query(location, digest=desc.digest), what=what,
                       scopes=scopes, body=b"", headers={"Content-Length": "0"})
    _expect_created(client, resp, what, endpoint)


def _expect_created(client, resp, what, endpoint) -> None:
    if resp.status not in (201, 204):
        raise client.status_error(resp, what, endpoint)
    resp.read()
    resp.close()


def push_manifest(client, ref: Reference, media_type: str, data: bytes) -> str:
    from hull.registry.client import compute_digest
    endpoint = client.config.push_endpoint(ref)
    digest = compute_digest(data)
    target = ref.tag or ref.digest or digest
    if ref.digest and ref.digest != digest:
        raise InvalidArgument(f"cannot push image {ref}: manifest digest is {digest}, "
                              f"not {ref.digest}")
    what = f"push image {ref}: manifest"
    resp = client.send(endpoint, "PUT", client.url(endpoint, f"manifests/{target}"), what=what,
                       scopes=_scopes(client, endpoint), body=bytes(data),
                       headers={"Content-Type": media_type, "Content-Length": str(len(data))})
    _expect_created(client, resp, what, endpoint)
    claimed = resp.headers.get("Docker-Content-Digest")
    if claimed and claimed.startswith("sha256:") and claimed != digest:
        raise InvalidArgument(f"cannot {what}: registry stored digest {claimed}, we sent {digest}")
    return digest
