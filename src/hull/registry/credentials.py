"""Registry credentials from Docker-style ``config.json`` / containers ``auth.json`` files.

Files are searched in order: ``$REGISTRY_AUTH_FILE``, ``$DOCKER_CONFIG/config.json``,
``~/.docker/config.json``, ``/etc/hull/auth.json``; the first file with an entry
for the registry wins. Entries are ``auths{key: {auth | username+password |
identitytoken | registrytoken}}`` where ``key`` is a host (``127.0.0.1:5000``), a
URL (``https://index.docker.io/v1/``) or a host with a repository namespace
(``quay.io/team``, the longest match wins). ``credHelpers``/``credsStore`` run
``docker-credential-<name> get`` as Docker does.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hull.errors import InvalidArgument, PermissionDenied

SYSTEM_AUTH_FILE = "/etc/hull/auth.json"
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
                   "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    """What CRI's AuthConfig carries; an empty object means anonymous."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token or self.registry_token)

    def __repr__(self) -> str:  # never print secrets into logs
        return f"Credentials(username={self.username!r}, secrets={'***' if self else 'none'})"


def default_auth_files() -> list[Path]:
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("DOCKER_CONFIG"):
        files.append(Path(os.environ["DOCKER_CONFIG"]) / "config.json")
    home = os.environ.get("HOME") or os.path.expanduser("~")
    if home:
        files.append(Path(home) / ".docker" / "config.json")
    files.append(Path(SYSTEM_AUTH_FILE))
    return files


def _normalize_key(key: str) -> str:
    """``https://host:port/v1/`` -> ``host:port``; ``host/ns`` stays ``host/ns``."""
    key = key.strip()
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
            key = key.split("/", 1)[0]  # URL keys name a host; their path is API version noise
            break
    key = key.rstrip("/")
    if key in DOCKER_HUB_KEYS:
        return "docker.io"
    return key


def _decode_entry(path: Path, key: str, entry: dict) -> Credentials:
    if not isinstance(entry, dict):
        raise InvalidArgument(f"cannot read credentials file {path}: entry {key!r} is not an object")
    username, password = entry.get("username") or "", entry.get("password") or ""
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=False).decode()
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidArgument(f"cannot read credentials file {path}: "
                                  f"entry {key!r} has bad base64 in auth") from e
        username, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidArgument(f"cannot read credentials file {path}: "
                                  f"entry {key!r} auth is not base64(user:password)")
    return Credentials(username=username, password=password,
                       identity_token=entry.get("identitytoken") or "",
                       registry_token=entry.get("registrytoken") or "")


def _helper_credentials(helper: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-<helper>`` for ``server``, as Docker does."""
    try:
        proc = subprocess.run([f"docker-credential-{helper}", "get"], input=server.encode(),
                              capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PermissionDenied(f"cannot get credentials for {server}: "
                               f"helper docker-credential-{helper}: {e}") from e
    if proc.returncode != 0:
        if b"credentials not found" in proc.stdout + proc.stderr:
            return None
        raise PermissionDenied(f"cannot get credentials for {server}: docker-credential-{helper}: "
                               f"{(proc.stderr or proc.stdout).decode(errors='replace').strip()}")
    try:
        answer = json.loads(proc.stdout)
    except ValueError as e:
        raise PermissionDenied(f"cannot get credentials for {server}: "
                               f"docker-credential-{helper} printed no JSON") from e
    if answer.get("Username") == "<token>":
        return Credentials(identity_token=answer.get("Secret", ""))
    return Credentials(username=answer.get("Username", ""), password=answer.get("Secret", ""))


class CredentialStore:
    """Looks credentials up across the auth files, read once and cached."""

    def __init__(self, files: list[Path] | None = None):
        self.files = [Path(f) for f in files] if files is not None else default_auth_files()
        self._loaded: list[tuple[Path, dict]] | None = None

    def _documents(self) -> list[tuple[Path, dict]]:
        if self._loaded is None:
            loaded = []
            for path in self.files:
                try:
                    doc = json.loads(path.read_bytes() or b"{}")
                except FileNotFoundError:
                    continue
                except PermissionError:
                    continue  # another user's file: Docker skips it too
                except ValueError as e:
                    raise InvalidArgument(f"cannot read credentials file {path}: {e}") from e
                if not isinstance(doc, dict):
                    raise InvalidArgument(f"cannot read credentials file {path}: not a JSON object")
                loaded.append((path, doc))
            self._loaded = loaded
        return self._loaded

    def lookup(self, host: str, repository: str = "") -> Credentials | None:
        """Credentials for ``host`` (``docker.io`` for Docker Hub) and ``repository`` path."""
        host = _normalize_key(host)
        candidates = [f"{host}/{repository}"] if repository else []
        parts = repository.split("/") if repository else []
        candidates += [f"{host}/{'/'.join(parts[:i])}" for i in range(len(parts) - 1, 0, -1)]
        candidates.append(host)
        for path, doc in self._documents():
            helpers = doc.get("credHelpers") or {}
            for key, helper in helpers.items():
                if _normalize_key(key) == host:
                    return _helper_credentials(helper, key)
            auths = {_normalize_key(k): (k, v) for k, v in (doc.get("auths") or {}).items()}
            for candidate in candidates:
                if candidate in auths:
                    key, entry = auths[candidate]
                    return _decode_entry(path, key, entry)
            if doc.get("credsStore"):
                server = "https://index.docker.io/v1/" if host == "docker.io" else host
                found = _helper_credentials(doc["credsStore"], server)
                if found:
                    return found
        return None


def _rewrite_auth_file(path: Path, change) -> None:
    """Apply ``change(doc)`` to a config.json atomically (temp file, fsync, rename), mode 0600."""
    import tempfile
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes() or b"{}")
    except FileNotFoundError:
        doc = {}
    except ValueError as e:
        raise InvalidArgument(f"cannot update credentials file {path}: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidArgument(f"cannot update credentials file {path}: not a JSON object")
    change(doc)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix=".auth-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            json.dump(doc, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def store_credentials(path: str | os.PathLike, host: str, creds: Credentials) -> None:
    """Save ``creds`` for ``host`` in a Docker-style config.json (what ``login`` writes)."""
    key = "https://index.docker.io/v1/" if _normalize_key(host) == "docker.io" else host
    entry: dict = {}
    if creds.identity_token:
        entry["identitytoken"] = creds.identity_token
    elif creds.username:
        entry["auth"] = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    if creds.registry_token:
        entry["registrytoken"] = creds.registry_token

    def change(doc: dict) -> None:
        auths = doc.setdefault("auths", {})
        for existing in [k for k in auths if _normalize_key(k) == _normalize_key(host)]:
            del auths[existing]
        auths[key] = entry

    _rewrite_auth_file(Path(path), change)


def remove_credentials(path: str | os.PathLike, host: str) -> bool:
    """Forget ``host`` in a config.json (``logout``); False when nothing was stored."""
    removed = []

    def change(doc: dict) -> None:
        auths = doc.get("auths") or {}
        for key in [k for k in auths if _normalize_key(k) == _normalize_key(host)]:
            removed.append(auths.pop(key))

    if not Path(path).exists():
        return False
    _rewrite_auth_file(Path(path), change)
    return bool(removed)
