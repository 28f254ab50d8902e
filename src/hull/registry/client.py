"""The OCI distribution client: resolve manifests, stream blobs, push.

One :class:`RegistryClient` serves one pull (or push) and may be used from
many threads at once: layers download in parallel. Each request goes through
:meth:`RegistryClient.send`, which adds authorization, follows redirects
(dropping credentials when the host changes), falls back from https to
plain http where the config allows it, and retries 5xx answers and dropped
connections with backoff. Foreign exceptions become hull.errors here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

from hull.errors import (DeadlineExceeded, HullError, Internal, InvalidArgument, NotFound,
                         PermissionDenied, ResourceExhausted, Unavailable)
from hull.registry import media
from hull.registry.auth import Authenticator, repository_scope, server_message
from hull.registry.config import DOCKER_HUB_API_HOST, Endpoint, RegistryConfig
from hull.registry.credentials import Credentials
from hull.registry.media import Descriptor, Platform
from hull.registry.reference import Reference, parse
from hull.registry.retry import RETRY_STATUSES, RetryPolicy, is_transient
from hull.registry.transport import HTTPTransport, Transport

log = logging.getLogger(__name__)

MAX_MANIFEST_SIZE = 4 << 20          # containerd's limit; a manifest is a few KiB
MAX_ERROR_BODY = 64 << 10
MAX_REDIRECTS = 5
MAX_INDEX_DEPTH = 4
REDIRECTS = (301, 302, 303, 307, 308)
HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


@dataclass
class Resolved:
    """What a reference points at, for this client's platform."""

    ref: Reference
    index_digest: str | None
    manifest_digest: str
    manifest_media_type: str
    manifest: bytes
    parsed: dict[str, Any]
    config: Descriptor
    layers: list[Descriptor]
    endpoint: Endpoint
    index: bytes | None = None
    index_media_type: str | None = None
    tried: list[str] = field(default_factory=list)   # endpoints that failed first, with why

    @property
    def digest(self) -> str:
        """The digest that names the image: the index's when there is one (as containerd)."""
        return self.index_digest or self.manifest_digest

    @property
    def download_size(self) -> int:
        """Bytes of config and layers, for progress totals."""
        return self.config.size + sum(layer.size for layer in self.layers)


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    hasher = HASHES.get(algorithm)
    if hasher is None:
        raise InvalidArgument(f"unsupported digest algorithm {algorithm!r}")
    return f"{algorithm}:{hasher(data).hexdigest()}"


#: what OpenSSL says when the "TLS server" answers a ClientHello in plain HTTP
_PLAIN_HTTP_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST",
                                 "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"})


def _speaks_plain_http(error: BaseException) -> bool:
    """An https attempt met a server that answered in plain HTTP."""
    return (isinstance(error, ssl.SSLError)
            and not isinstance(error, ssl.SSLCertVerificationError)
            and getattr(error, "reason", None) in _PLAIN_HTTP_REASONS)


class RegistryClient:
    def __init__(self, config: RegistryConfig | None = None, *,
                 credentials: Credentials | None = None, platform: str | None = None,
                 timeout: float = 30, transport: Transport | None = None,
                 retry: RetryPolicy | None = None):
        self.config = config if config is not None else RegistryConfig.load()
        self.credentials = credentials
        self.platform: Platform = (media.parse_platform(platform) if platform
                                   else media.host_platform())
        self.transport = transport if transport is not None else HTTPTransport(timeout)
        self.retry = retry or RetryPolicy()
        self.auth = Authenticator(self._fetch_for_auth, self._credentials_for)
        self._schemes: dict[str, str] = {}
        self._served: dict[str, Endpoint] = {}
        self._mirror_hosts: set[str] = set()
        self._lock = threading.Lock()

    # --- plumbing -------------------------------------------------------

    def _credentials_for(self, host: str, repository: str) -> Credentials | None:
        # credentials handed to the client (CRI's AuthConfig) are for the image's own
        # registry; a mirror gets only what the auth files hold for it, so they never leak
        with self._lock:
            mirror = host in self._mirror_hosts
        if self.credentials and not mirror:
            return self.credentials
        return self.config.credential_store.lookup(
            "docker.io" if host == DOCKER_HUB_API_HOST else host, repository)

    def _fetch_for_auth(self, method, url, headers, body):
        """One token server request, retried like registry requests (5xx, dropped links)."""
        host = urlsplit(url).netloc
        what = f"get a token from {url.split('?')[0]}"
        for attempt in range(1, self.retry.attempts + 1):
            try:
                resp = self.transport.request(method, url, headers, body,
                                              tls=self.config.tls_files(host))
                data = resp.read(MAX_ERROR_BODY)
                resp.close()
            except Exception as e:
                if is_transient(e) and attempt < self.retry.attempts:
                    self.retry.wait(attempt)
                    continue
                raise self._connection_error(e, host, what) from e
            if resp.status in RETRY_STATUSES and attempt < self.retry.attempts:
                self.retry.wait(attempt, resp.headers.get("Retry-After"))
                continue
            return resp.status, resp.headers, data
        raise Internal(f"cannot {what}: retry loop ended")  # the loop always returns

    def scheme(self, endpoint: Endpoint) -> str:
        with self._lock:
            return self._schemes.get(endpoint.host, endpoint.scheme)

    def url(self, endpoint: Endpoint, path: str) -> str:
        if not endpoint.repository:
            return f"{self.scheme(endpoint)}://{endpoint.host}/v2/{path}"
        return f"{self.scheme(endpoint)}://{endpoint.host}/v2/{endpoint.repository}/{path}"

    def _connection_error(self, error: BaseException, host: str, what: str) -> HullError:
        if isinstance(error, ssl.SSLCertVerificationError):
            return Unavailable(
                f"cannot {what}: TLS certificate of {host} is not trusted "
                f"({getattr(error, 'verify_message', None) or error}); put the registry's CA in "
                f"{self.config.certs_dir}/{host}/ca.crt or mark it insecure")
        if isinstance(error, ssl.SSLError):
            return Unavailable(f"cannot {what}: TLS handshake with {host} failed: "
                               f"{getattr(error, 'reason', None) or error}")
        if isinstance(error, socket.gaierror):
            return Unavailable(f"cannot {what}: unknown registry host {host} ({error.strerror})")
        if isinstance(error, ConnectionRefusedError):
            return Unavailable(f"cannot {what}: connection refused by {host}")
        if isinstance(error, (TimeoutError, socket.timeout)):
            return DeadlineExceeded(f"cannot {what}: {host} did not answer in time")
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return Unavailable(f"cannot {what}: connection to {host} failed: {reason}")

    def status_error(self, resp, what: str, endpoint: Endpoint) -> HullError:
        try:
            body = resp.read(MAX_ERROR_BODY)
        except Exception:  # the error itself is what matters; its body is a courtesy
            body = b""
        finally:
            resp.close()
        message = server_message(body) if body else (resp.reason or "no message").lower()
        where = f"{endpoint.host}" + (" (mirror)" if endpoint.mirror else "")
        status = resp.status
        if status in (401, 403):
            return PermissionDenied(f"cannot {what}: {where} denied access ({status}): {message}")
        if status == 404:
            return NotFound(f"cannot {what}: {message} on {where}")
        if status == 429:
            return ResourceExhausted(f"cannot {what}: {where} is rate limiting: {message}")
        if status >= 500:
            return Unavailable(f"cannot {what}: {where} answered {status}: {message}")
        if 400 <= status < 500:
            return InvalidArgument(f"cannot {what}: {where} answered {status}: {message}")
        return Internal(f"cannot {what}: unexpected answer {status} from {where}: {message}")

    def _transmit(self, endpoint: Endpoint, method: str, url: str, headers: dict, body,
                  scopes: list[str], own_host: bool):
        """Send once: credentials only to the endpoint's own host, never to a redirect target."""
        sent = dict(headers)
        if own_host:
            value = self.auth.authorization(endpoint.host, endpoint.repository, scopes)
            if value:
                sent["Authorization"] = value
            return self.transport.request(method, url, sent, body, tls=endpoint.tls,
                                          insecure=endpoint.insecure)
        host = urlsplit(url).netloc
        return self.transport.request(method, url, sent, body, tls=self.config.tls_files(host))

    def _fall_back_to_http(self, endpoint: Endpoint, url: str, error: BaseException) -> bool:
        """Switch the host to plain HTTP if the config allows it and the server speaks it."""
        if not (url.startswith("https:") and endpoint.http_fallback and _speaks_plain_http(error)):
            return False
        log.debug("%s speaks plain HTTP; falling back from https", endpoint.host)
        with self._lock:
            self._schemes[endpoint.host] = "http"
        return True

    def send(self, endpoint: Endpoint, method: str, url: str, *, what: str, scopes: list[str],
             headers: Mapping[str, str] | None = None, body=None, retry: bool = True):
        """One request with auth, redirects, http fallback and retries. Returns the response."""
        headers = dict(headers or {})
        headers.setdefault("User-Agent", "hull")
        if endpoint.mirror:
            with self._lock:
                self._mirror_hosts.add(endpoint.host)
        replayable = body is None or isinstance(body, (bytes, bytearray, memoryview))
        attempt = auth_retried = redirects = 0
        while True:
            host = urlsplit(url).netloc
            own_host = host == endpoint.host
            try:
                resp = self._transmit(endpoint, method, url, headers, body, scopes, own_host)
            except HullError:
                raise
            except Exception as e:
                if own_host and self._fall_back_to_http(endpoint, url, e):
                    url = "http:" + url[len("https:"):]
                    continue
                attempt += 1
                if retry and replayable and is_transient(e) and attempt < self.retry.attempts:
                    log.debug("retrying %s %s after %s", method, url, e)
                    self.retry.wait(attempt)
                    continue
                raise self._connection_error(e, host, what) from e
            if resp.status == 401 and own_host and auth_retried < 1 and replayable:
                auth_retried += 1
                challenge = resp.headers.get("WWW-Authenticate")
                _drain(resp)
                if not self.auth.learn(endpoint.host, challenge):
                    self.auth.forget_tokens(endpoint.host)  # an expired token: fetch a new one
                continue
            if resp.status in REDIRECTS and resp.headers.get("Location") and redirects < MAX_REDIRECTS:
                redirects += 1
                url = urljoin(url, resp.headers["Location"])
                _drain(resp)
                if resp.status == 303:
                    method, body = "GET", None
                continue
            if resp.status in RETRY_STATUSES and retry and replayable \
                    and attempt + 1 < self.retry.attempts:
                attempt += 1
                retry_after = resp.headers.get("Retry-After")
                _drain(resp)
                log.debug("retrying %s %s after status %s", method, url, resp.status)
                self.retry.wait(attempt, retry_after)
                continue
            return resp

    # --- manifests -------------------------------------------------------

    def get_manifest(self, endpoint: Endpoint, ref: Reference, obj: str, *,
                     expected: str | None = None, size: int | None = None
                     ) -> tuple[bytes, str, str]:
        """Fetch one manifest or index by tag or digest: (bytes, media type, digest)."""
        what = f"pull image {ref}"
        resp = self.send(endpoint, "GET", self.url(endpoint, f"manifests/{obj}"), what=what,
                         scopes=[repository_scope(endpoint.repository)],
                         headers={"Accept": media.MANIFEST_ACCEPT})
        if resp.status != 200:
            raise self.status_error(resp, what, endpoint)
        try:
            body = resp.read(MAX_MANIFEST_SIZE + 1)
        except Exception as e:
            raise self._connection_error(e, endpoint.host, what) from e
        finally:
            resp.close()
        media_type, digest = self._check_manifest(
            what, endpoint, obj, body, resp.headers.get("Content-Type", ""), expected, size,
            resp.headers.get("Docker-Content-Digest"))
        return body, media_type, digest

    def head_manifest(self, endpoint: Endpoint, ref: Reference, obj: str) -> str | None:
        """The digest the registry names for a tag (HEAD, no body), or None if it does not say."""
        what = f"pull image {ref}"
        resp = self.send(endpoint, "HEAD", self.url(endpoint, f"manifests/{obj}"), what=what,
                         scopes=[repository_scope(endpoint.repository)],
                         headers={"Accept": media.MANIFEST_ACCEPT})
        resp.close()
        if resp.status != 200:
            if resp.status in (404, 401, 403) or resp.status >= 500:
                raise self.status_error(resp, what, endpoint)
            return None
        return resp.headers.get("Docker-Content-Digest") or None

    def _check_manifest(self, what: str, endpoint: Endpoint, obj: str, body: bytes,
                        content_type: str, expected: str | None, size: int | None,
                        claimed: str | None) -> tuple[str, str]:
        if len(body) > MAX_MANIFEST_SIZE:
            raise InvalidArgument(f"cannot {what}: manifest {obj} is larger than "
                                  f"{MAX_MANIFEST_SIZE} bytes")
        media_type = media.sniff_media_type(content_type, body)
        if media_type in media.SCHEMA1:
            raise InvalidArgument(
                f"cannot {what}: Docker image manifest schema 1 is not supported "
                f"(deprecated since 2017); push the image again with a current client "
                f"to store it as schema 2 or OCI")
        if media_type not in media.MANIFESTS + media.INDEXES:
            raise InvalidArgument(f"cannot {what}: unsupported manifest media type "
                                  f"{media_type or 'none'!r}")
        algorithm = (expected or "sha256").split(":", 1)[0]
        digest = compute_digest(body, algorithm)
        if expected and digest != expected:
            raise InvalidArgument(f"cannot {what}: manifest digest mismatch: asked for {expected}, "
                                  f"{endpoint.host} sent content with digest {digest}")
        if claimed and claimed.startswith(algorithm + ":") and claimed != digest:
            raise InvalidArgument(f"cannot {what}: manifest digest mismatch: {endpoint.host} "
                                  f"claims {claimed} but sent content with digest {digest}")
        if size is not None and len(body) != size:
            raise InvalidArgument(f"cannot {what}: manifest {obj} is {len(body)} bytes, "
                                  f"its descriptor says {size}")
        return media_type, digest

    def _manifest(self, endpoint: Endpoint, ref: Reference, obj: str, expected: str | None,
                  size: int | None, cached: "Callable[[str], bytes | None] | None"
                  ) -> tuple[bytes, str, str]:
        """A manifest from ``cached`` when it holds the digest (a HEAD for tags), else a GET."""
        if cached is not None:
            digest = expected or self.head_manifest(endpoint, ref, obj)
            body = cached(digest) if digest else None
            if body is not None:
                media_type, digest = self._check_manifest(
                    f"pull image {ref}", endpoint, obj, body, "", digest, size, None)
                return body, media_type, digest
        return self.get_manifest(endpoint, ref, obj, expected=expected, size=size)

    def select_platform(self, ref: Reference, index: dict) -> Descriptor:
        entries = index.get("manifests")
        if not isinstance(entries, list):
            raise InvalidArgument(f"cannot pull image {ref}: index has no manifests list")
        best, best_score = None, 0
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            score = media.platform_matches(self.platform, entry.get("platform"))
            if score > best_score:
                best, best_score = entry, score
        if best is None:
            offered = sorted({"/".join(str(p.get(k, "")) for k in ("os", "architecture", "variant")
                                       if p.get(k))
                              for p in (e.get("platform") or {} for e in entries
                                        if isinstance(e, dict)) if p})
            raise NotFound(f"cannot pull image {ref}: no manifest for platform {self.platform} "
                           f"(the index offers {', '.join(offered) or 'no platforms'})")
        return _part(ref, best, "index entry")

    def _resolve_at(self, ref: Reference, endpoint: Endpoint, cached) -> Resolved:
        body, media_type, digest = self._manifest(endpoint, ref, ref.object, ref.digest, None,
                                                  cached)
        index = index_type = index_digest = None
        depth = 0
        while media_type in media.INDEXES:
            depth += 1
            if depth > MAX_INDEX_DEPTH:
                raise InvalidArgument(f"cannot pull image {ref}: indexes nested too deep")
            if index is None:
                index, index_type, index_digest = body, media_type, digest
            chosen = self.select_platform(ref, _json(ref, body))
            body, media_type, digest = self._manifest(endpoint, ref, chosen.digest, chosen.digest,
                                                      chosen.size, cached)
        parsed = _json(ref, body)
        config, layers = _image_parts(ref, parsed)
        return Resolved(ref=ref, index_digest=index_digest, manifest_digest=digest,
                        manifest_media_type=media_type, manifest=body, parsed=parsed,
                        config=config, layers=layers, endpoint=endpoint, index=index,
                        index_media_type=index_type)

    def resolve(self, ref: Reference | str, *,
                cached: Callable[[str], bytes | None] | None = None) -> Resolved:
        """Find the manifest ``ref`` names for this client's platform, mirrors first.

        ``cached(digest)`` may return manifest or index bytes already held (the
        content store): then a tag costs one HEAD and known manifests no GET, as
        containerd resolves. Cached bytes are checked against their digest too.
        """
        ref = parse(ref) if isinstance(ref, str) else ref
        endpoints = self.config.endpoints(ref)
        tried: list[str] = []
        for position, endpoint in enumerate(endpoints):
            try:
                resolved = self._resolve_at(ref, endpoint, cached)
            except (NotFound, Unavailable, PermissionDenied, DeadlineExceeded, InvalidArgument,
                    ResourceExhausted) as e:
                if position == len(endpoints) - 1:
                    if tried:
                        raise type(e)(f"{e} (also tried {'; '.join(tried)})") from e
                    raise
                log.warning("mirror %s failed for %s, trying the next: %s", endpoint, ref, e)
                tried.append(f"{endpoint}: {e}")
                continue
            resolved.tried = tried
            resolved.endpoint = dataclasses.replace(endpoint, scheme=self.scheme(endpoint))
            with self._lock:
                self._served[ref.name] = resolved.endpoint
            return resolved
        raise Internal(f"cannot pull image {ref}: no endpoints")  # endpoints() is never empty

    # --- blobs -----------------------------------------------------------

    def blob_endpoints(self, ref: "Reference | Resolved") -> list[Endpoint]:
        """The endpoint that served the manifest first, then the rest in config order."""
        if isinstance(ref, Resolved):
            first, ref = ref.endpoint, ref.ref
        else:
            with self._lock:
                first = self._served.get(ref.name)
        endpoints = self.config.endpoints(ref)
        if first is not None:
            same = (first.host, first.repository)
            endpoints = [first] + [e for e in endpoints if (e.host, e.repository) != same]
        return endpoints

    def fetch_blob(self, ref: "Reference | Resolved", descriptor, *, offset: int = 0):
        """Open a blob for streaming; see :class:`hull.registry.blob.BlobStream`."""
        from hull.registry.blob import BlobStream
        ref_obj = ref.ref if isinstance(ref, Resolved) else (parse(ref) if isinstance(ref, str)
                                                             else ref)
        return BlobStream(self, ref_obj, self.blob_endpoints(ref if not isinstance(ref, str)
                                                             else ref_obj),
                          media.as_descriptor(descriptor), offset)

    def fetch_manifest(self, ref: "Reference | Resolved", descriptor) -> bytes:
        """Fetch a manifest or index by its descriptor, digest and size verified."""
        desc = media.as_descriptor(descriptor)
        ref_obj = ref.ref if isinstance(ref, Resolved) else ref
        last: HullError | None = None
        for endpoint in self.blob_endpoints(ref):
            try:
                return self.get_manifest(endpoint, ref_obj, desc.digest, expected=desc.digest,
                                         size=desc.size)[0]
            except (NotFound, Unavailable, PermissionDenied, DeadlineExceeded) as e:
                last = e
        assert last is not None
        raise last

    def list_tags(self, ref: Reference | str, page_size: int = 1000) -> list[str]:
        """Every tag of the repository, following ``Link: <...>; rel="next"`` pages."""
        ref = parse(ref) if isinstance(ref, str) else ref
        endpoint = self.config.push_endpoint(ref)  # the upstream: mirrors may be partial
        what = f"list tags of {ref.name}"
        url = self.url(endpoint, f"tags/list?n={page_size}")
        tags: list[str] = []
        for _ in range(10_000):  # a registry that loops its Link header must not hang us
            resp = self.send(endpoint, "GET", url, what=what,
                             scopes=[repository_scope(endpoint.repository)])
            if resp.status != 200:
                raise self.status_error(resp, what, endpoint)
            link = resp.headers.get("Link", "")
            try:
                tags += json.loads(resp.read(MAX_MANIFEST_SIZE)).get("tags") or []
            except (ValueError, AttributeError) as e:
                raise InvalidArgument(f"cannot {what}: unreadable answer from "
                                      f"{endpoint.host}") from e
            finally:
                resp.close()
            next_url = _next_link(link)
            if not next_url:
                return tags
            url = urljoin(url, next_url)
        raise Internal(f"cannot {what}: {endpoint.host} pages its tag list without end")

    def check_login(self, host: str) -> Endpoint:
        """Prove the client's credentials on ``host`` (``GET /v2/``), as ``docker login`` does."""
        endpoint = self.config.registry_endpoint(host)
        what = f"log in to {host}"
        resp = self.send(endpoint, "GET", self.url(endpoint, ""), what=what, scopes=[])
        if resp.status != 200:
            raise self.status_error(resp, what, endpoint)
        _drain(resp)
        return dataclasses.replace(endpoint, scheme=self.scheme(endpoint))

    # --- push ------------------------------------------------------------

    def push_blob(self, ref: Reference | str, descriptor, open_reader: Callable[[], Any], *,
                  mount_from: str | None = None, chunk_size: int | None = None) -> str:
        """Upload a blob unless the registry has it: "exists", "mounted" or "uploaded"."""
        from hull.registry.upload import push_blob
        ref = parse(ref) if isinstance(ref, str) else ref
        return push_blob(self, ref, media.as_descriptor(descriptor), open_reader,
                         mount_from=mount_from, chunk_size=chunk_size)

    def push_manifest(self, ref: Reference | str, media_type: str, data: bytes) -> str:
        """PUT a manifest or index under the reference's tag (or digest); returns its digest."""
        from hull.registry.upload import push_manifest
        ref = parse(ref) if isinstance(ref, str) else ref
        return push_manifest(self, ref, media_type, data)

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if close:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _next_link(header: str) -> str | None:
    """The target of ``<url>; rel="next"`` in a Link header (RFC 8288)."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None


def _drain(resp) -> None:
    """Read a small body to the end so the connection can be reused; else drop it."""
    try:
        resp.read(MAX_ERROR_BODY)
    except Exception:  # a broken body on an answer we discard anyway
        pass
    resp.close()


def _json(ref: Reference, body: bytes) -> dict:
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise InvalidArgument(f"cannot pull image {ref}: manifest is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidArgument(f"cannot pull image {ref}: manifest is not a JSON object")
    return doc


def _image_parts(ref: Reference, manifest: dict) -> tuple[Descriptor, list[Descriptor]]:
    if manifest.get("schemaVersion") != 2:
        raise InvalidArgument(f"cannot pull image {ref}: manifest schemaVersion "
                              f"{manifest.get('schemaVersion')!r} is not 2")
    config, layers = manifest.get("config"), manifest.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        raise InvalidArgument(f"cannot pull image {ref}: manifest lacks config or layers")
    config_desc = _part(ref, config, "config descriptor")
    if config_desc.media_type not in (media.OCI_CONFIG, media.DOCKER_CONFIG):
        raise InvalidArgument(f"cannot pull image {ref}: config media type "
                              f"{config_desc.media_type!r} is not a container image config "
                              f"(an OCI artifact?)")
    return config_desc, [_part(ref, layer, f"layer {i} descriptor")
                         for i, layer in enumerate(layers)]


def _part(ref: Reference, raw, where: str) -> Descriptor:
    try:
        return media.as_descriptor(raw, where)
    except InvalidArgument as e:
        raise InvalidArgument(f"cannot pull image {ref}: {e}") from e
