"""Registry authentication: the ``WWW-Authenticate`` challenge flow.

A request goes out with whatever the client already knows for the host.
A 401 carries a challenge: ``Basic`` means send the credentials; ``Bearer``
names a token server (realm, service) from which we get a token for the
scopes we need (``repository:<path>:pull``), with basic credentials, or by
the OAuth2 refresh-token POST when we hold an identity token. Tokens are
cached per (realm, service, scopes, identity) until they expire.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import urlencode

from hull.errors import PermissionDenied, Unavailable
from hull.registry.credentials import Credentials

DEFAULT_TOKEN_LIFETIME = 60      # seconds, the distribution token spec's default
EXPIRY_MARGIN = 5                # renew this many seconds before the server would refuse
CLIENT_ID = "hull"


@dataclass(frozen=True)
class Challenge:
    scheme: str                               # lowercase: "basic", "bearer"
    params: Mapping[str, str] = field(default_factory=dict)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _read_token(text: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(text) and text[i] not in " \t,=\"":
        i += 1
    return text[start:i], i


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    out, i = [], i + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    return "".join(out), i  # unterminated: take what is there, as browsers do


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value (RFC 7235), several challenges allowed."""
    challenges: list[Challenge] = []
    i, n = 0, len(header)
    current: dict[str, str] | None = None
    while i < n:
        i = _skip_space(header, i)
        if i < n and header[i] == ",":
            i += 1
            continue
        word, j = _read_token(header, i)
        if not word:
            i = j + 1
            continue
        k = _skip_space(header, j)
        if k < n and header[k] == "=" and current is not None:
            if k + 1 >= n or header[k + 1] in "=,":  # token68 (Negotiate abc==): no params
                while k < n and header[k] == "=":
                    k += 1
                i = k
                continue
            k = _skip_space(header, k + 1)
            if k < n and header[k] == '"':
                value, k = _read_quoted(header, k)
            else:
                value, k = _read_token(header, k)
            current[word.lower()] = value
            i = k
            continue
        current = {}
        challenges.append(Challenge(word.lower(), current))
        i = j
    return [Challenge(c.scheme, dict(c.params)) for c in challenges]


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


@dataclass
class _Token:
    value: str
    expires_at: float


#: fetch(method, url, headers, body) -> (status, headers, body bytes)
Fetcher = Callable[[str, str, Mapping[str, str], bytes | None], tuple[int, Mapping[str, str], bytes]]


class Authenticator:
    """Per-client auth state, shared by every thread of one pull."""

    def __init__(self, fetch: Fetcher, credentials_for: Callable[[str, str], Credentials | None],
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._credentials_for = credentials_for
        self._clock = clock
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple, _Token] = {}
        self._lock = threading.Lock()
        self._fetch_locks: dict[tuple, threading.Lock] = {}

    def learn(self, host: str, header: str | None) -> bool:
        """Remember the challenge a 401 carried; False when there is nothing new to try."""
        challenges = parse_challenges(header or "")
        preferred = next((c for c in challenges if c.scheme == "bearer"), None) or \
            next((c for c in challenges if c.scheme == "basic"), None)
        if preferred is None:
            return False
        with self._lock:
            known = self._challenges.get(host)
            self._challenges[host] = preferred
        return known != preferred

    def known(self, host: str) -> bool:
        with self._lock:
            return host in self._challenges

    def forget_tokens(self, host: str) -> None:
        with self._lock:
            challenge = self._challenges.get(host)
            if challenge is not None:
                realm = challenge.params.get("realm")
                self._tokens = {k: v for k, v in self._tokens.items() if k[0] != realm}

    def authorization(self, host: str, repository: str, scopes: list[str]) -> str | None:
        """The Authorization header value for a request, or None (anonymous)."""
        with self._lock:
            challenge = self._challenges.get(host)
        if challenge is None:
            return None
        creds = self._credentials_for(host, repository)
        if creds and creds.registry_token:
            return f"Bearer {creds.registry_token}"
        if challenge.scheme == "basic":
            if not creds or not creds.username:
                return None
            raw = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return "Bearer " + self._token(host, challenge, creds, scopes)

    def _token(self, host: str, challenge: Challenge, creds: Credentials | None,
               scopes: list[str]) -> str:
        realm = challenge.params.get("realm", "")
        if not realm:
            raise PermissionDenied(f"cannot authenticate to {host}: bearer challenge without realm")
        hinted = [s for s in challenge.params.get("scope", "").split(" ") if s]
        all_scopes = sorted(set(scopes) | set(hinted))
        identity = (creds.username, creds.identity_token[:8]) if creds else ("", "")
        key = (realm, challenge.params.get("service", ""), tuple(all_scopes), identity)
        with self._lock:
            token = self._tokens.get(key)
            if token and token.expires_at > self._clock():
                return token.value
            fetch_lock = self._fetch_locks.setdefault(key, threading.Lock())
        with fetch_lock:  # one token request per key, however many threads ask
            with self._lock:
                token = self._tokens.get(key)
                if token and token.expires_at > self._clock():
                    return token.value
            token = self._request_token(host, realm, challenge.params.get("service", ""),
                                        all_scopes, creds)
            with self._lock:
                self._tokens[key] = token
            return token.value

    def _request_token(self, host: str, realm: str, service: str, scopes: list[str],
                       creds: Credentials | None) -> _Token:
        headers = {"User-Agent": "hull"}
        if creds and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "client_id": CLIENT_ID, "service": service, "scope": " ".join(scopes)}
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            status, _, body = self._fetch("POST", realm, headers, urlencode(form).encode())
        else:
            query = [("service", service)] if service else []
            query += [("scope", s) for s in scopes]
            if creds and creds.username:
                raw = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
                query += [("account", creds.username), ("client_id", CLIENT_ID)]
            separator = "&" if "?" in realm else "?"
            url = realm + (separator + urlencode(query) if query else "")
            status, _, body = self._fetch("GET", url, headers, None)
        if status in (401, 403):
            raise PermissionDenied(f"cannot authenticate to {host}: token server {realm} refused "
                                   f"({status}): {_server_message(body)}")
        if status != 200:
            raise Unavailable(f"cannot authenticate to {host}: token server {realm} answered "
                              f"{status}: {_server_message(body)}")
        return self._parse_token(host, realm, body)

    def _parse_token(self, host: str, realm: str, body: bytes) -> _Token:
        try:
            doc = json.loads(body)
            value = doc.get("token") or doc.get("access_token")
            lifetime = int(doc.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError) as e:
            raise PermissionDenied(f"cannot authenticate to {host}: token server {realm} "
                                   f"sent an unreadable answer") from e
        if not value:
            raise PermissionDenied(f"cannot authenticate to {host}: token server {realm} "
                                   f"sent no token")
        lifetime = max(lifetime, DEFAULT_TOKEN_LIFETIME)
        return _Token(value, self._clock() + lifetime - EXPIRY_MARGIN)


def _server_message(body: bytes) -> str:
    """The human part of a registry or token server error body."""
    try:
        doc = json.loads(body)
    except ValueError:
        text = body.decode(errors="replace").strip()
        return text.splitlines()[0][:200] if text else "no message"
    if isinstance(doc, dict):
        errors = doc.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            message = first.get("message") or first.get("code") or "error"
            detail = first.get("detail")
            if detail and not isinstance(detail, (dict, list)):
                message += f" ({detail})"
            return str(message)
        for key in ("details", "error_description", "message", "error"):
            if doc.get(key):
                return str(doc[key])
    return json.dumps(doc)[:200]


server_message = _server_message
