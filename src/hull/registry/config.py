"""Registry configuration: the one file hulld and ``hull pull`` both read.

The format is containers-registries.conf v2 (TOML), as CRI-O and podman use::

    [[registry]]
    prefix = "docker.io"                 # which references this entry covers
    location = "docker.io"               # where they really live (rewrites the prefix)
    insecure = false                     # allow plain HTTP and unverified TLS
    blocked = false                      # refuse to pull from it
    mirror-by-digest-only = false
    [[registry.mirror]]
    location = "mirror.local:5000/dockerhub"
    insecure = true
    pull-from-mirror = "all"             # or "digest-only" / "tag-only"

Default file ``/etc/hull/registries.conf`` (``HULL_REGISTRIES_CONF`` overrides),
plus drop-ins in ``<file>.d/*.conf``. CA certificates and client certificates
live in ``/etc/hull/certs.d/<host:port>/`` (Docker's layout: ``*.crt`` CAs,
``*.cert`` + ``*.key`` client pairs; ``HULL_REGISTRY_CERTS_DIR`` overrides).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hull.errors import InvalidArgument, NotFound, PermissionDenied
from hull.registry.credentials import CredentialStore, Credentials
from hull.registry.reference import DEFAULT_DOMAIN, Reference

DEFAULT_CONFIG = "/etc/hull/registries.conf"
DEFAULT_CERTS_DIR = "/etc/hull/certs.d"
CONFIG_ENV = "HULL_REGISTRIES_CONF"
CERTS_ENV = "HULL_REGISTRY_CERTS_DIR"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
PULL_FROM_MIRROR = ("all", "digest-only", "tag-only")


@dataclass(frozen=True)
class TLSFiles:
    """CA bundle files and client certificate pairs for one host."""

    ca_files: tuple[str, ...] = ()
    client_certs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """One place to fetch a repository from: a mirror or the upstream registry."""

    host: str                 # host[:port] the HTTP requests go to
    repository: str           # repository path on that host
    scheme: str = "https"
    insecure: bool = False    # skip TLS verification
    http_fallback: bool = False  # when the https attempt finds a plain-HTTP server
    mirror: bool = False
    tls: TLSFiles = TLSFiles()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.repository}"

    def __str__(self) -> str:
        kind = "mirror " if self.mirror else ""
        return f"{kind}{self.scheme}://{self.host}/{self.repository}"


@dataclass
class Mirror:
    location: str
    insecure: bool = False
    pull_from_mirror: str = "all"


@dataclass
class RegistryEntry:
    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirror_by_digest_only: bool = False
    mirrors: list[Mirror] = field(default_factory=list)

    def matches(self, name: str) -> bool:
        """Does the repository name ``domain/path`` fall under this entry's prefix?"""
        if self.prefix.startswith("*."):
            domain = name.split("/", 1)[0]
            return domain.endswith(self.prefix[1:])
        if not name.startswith(self.prefix):
            return False
        return len(name) == len(self.prefix) or name[len(self.prefix)] in "/:@"

    def rewrite(self, name: str, location: str) -> str:
        if self.prefix.startswith("*."):
            return name  # wildcard entries cannot rewrite (containers-registries.conf rule)
        return location + name[len(self.prefix):]


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1, with or without a port."""
    hostname = host
    if hostname.startswith("["):
        hostname = hostname[1:].split("]", 1)[0]
    elif hostname.count(":") == 1:
        hostname = hostname.split(":", 1)[0]
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def api_host(domain: str) -> str:
    return DOCKER_HUB_API_HOST if domain == DEFAULT_DOMAIN else domain


def _bool(path: Path, table: dict, key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise InvalidArgument(f"cannot load registry config {path}: {key} must be true or false")
    return value


def _string(path: Path, table: dict, key: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise InvalidArgument(f"cannot load registry config {path}: {key} must be a string")
    return value.strip().rstrip("/")


def _parse_mirror(path: Path, table: dict) -> Mirror:
    location = _string(path, table, "location")
    if not location:
        raise InvalidArgument(f"cannot load registry config {path}: a mirror needs a location")
    pull_from = _string(path, table, "pull-from-mirror", "all") or "all"
    if pull_from not in PULL_FROM_MIRROR:
        raise InvalidArgument(f"cannot load registry config {path}: pull-from-mirror "
                              f"{pull_from!r} is not one of {', '.join(PULL_FROM_MIRROR)}")
    return Mirror(location, _bool(path, table, "insecure"), pull_from)


def _parse_entry(path: Path, table: dict) -> RegistryEntry:
    if not isinstance(table, dict):
        raise InvalidArgument(f"cannot load registry config {path}: [[registry]] must be a table")
    location = _string(path, table, "location")
    prefix = _string(path, table, "prefix") or location
    if not prefix:
        raise InvalidArgument(f"cannot load registry config {path}: "
                              f"a [[registry]] needs a location or a prefix")
    if prefix.startswith("*.") and location:
        raise InvalidArgument(f"cannot load registry config {path}: wildcard prefix "
                              f"{prefix!r} cannot have a location")
    mirrors = table.get("mirror", [])
    if not isinstance(mirrors, list):
        raise InvalidArgument(f"cannot load registry config {path}: mirror must be [[registry.mirror]]")
    return RegistryEntry(prefix=prefix, location=location or prefix,
                         insecure=_bool(path, table, "insecure"),
                         blocked=_bool(path, table, "blocked"),
                         mirror_by_digest_only=_bool(path, table, "mirror-by-digest-only"),
                         mirrors=[_parse_mirror(path, m) for m in mirrors])


def _parse_v1(path: Path, doc: dict) -> list[RegistryEntry]:
    """The v1 format: ``[registries.insecure] registries = [...]`` and ``block``."""
    tables = doc.get("registries", {})
    entries: dict[str, RegistryEntry] = {}
    for kind in ("insecure", "block"):
        for host in tables.get(kind, {}).get("registries", []):
            entry = entries.setdefault(host, RegistryEntry(prefix=host, location=host))
            if kind == "insecure":
                entry.insecure = True
            else:
                entry.blocked = True
    return list(entries.values())


def parse_document(path: Path, text: str) -> list[RegistryEntry]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidArgument(f"cannot load registry config {path}: {e}") from e
    if "registries" in doc and "registry" in doc:
        raise InvalidArgument(f"cannot load registry config {path}: mixes the v1 [registries] "
                              f"and v2 [[registry]] formats")
    if "registries" in doc:
        return _parse_v1(path, doc)
    tables = doc.get("registry", [])
    if not isinstance(tables, list):
        raise InvalidArgument(f"cannot load registry config {path}: use [[registry]] tables")
    return [_parse_entry(path, t) for t in tables]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except PermissionError as e:
        raise PermissionDenied(f"cannot load registry config {path}: permission denied") from e


class RegistryConfig:
    """Mirrors, insecure and blocked registries, TLS files and credentials."""

    def __init__(self, registries: list[RegistryEntry] | None = None, *,
                 certs_dir: str | os.PathLike | None = None,
                 credentials: CredentialStore | None = None, path: Path | None = None):
        self.registries = list(registries or [])
        self.certs_dir = Path(certs_dir or os.environ.get(CERTS_ENV) or DEFAULT_CERTS_DIR)
        self.credential_store = credentials or CredentialStore()
        self.path = path

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *,
             certs_dir: str | os.PathLike | None = None,
             auth_files: list[str | os.PathLike] | None = None) -> "RegistryConfig":
        """Read the config file; only the default path may be missing."""
        explicit = path or os.environ.get(CONFIG_ENV)
        config_path = Path(explicit or DEFAULT_CONFIG)
        entries: dict[str, RegistryEntry] = {}
        try:
            for entry in parse_document(config_path, _read(config_path)):
                entries[entry.prefix] = entry
        except FileNotFoundError as e:
            if explicit:
                raise NotFound(f"cannot load registry config {config_path}: no such file") from e
        drop_ins = config_path.with_name(config_path.name + ".d")
        if drop_ins.is_dir():
            for conf in sorted(drop_ins.glob("*.conf")):
                for entry in parse_document(conf, _read(conf)):
                    entries[entry.prefix] = entry  # later files override by prefix, as podman does
        store = CredentialStore([Path(f) for f in auth_files]) if auth_files is not None else None
        return cls(list(entries.values()), certs_dir=certs_dir, credentials=store, path=config_path)

    def entry_for(self, name: str) -> RegistryEntry | None:
        """The entry with the longest prefix matching ``name`` (``domain/path``)."""
        best = None
        for entry in self.registries:
            if entry.matches(name) and (best is None or _specificity(entry) > _specificity(best)):
                best = entry
        return best

    def tls_files(self, host: str) -> TLSFiles:
        directory = self.certs_dir / host
        try:
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return TLSFiles()
        cas = tuple(str(directory / n) for n in names if n.endswith(".crt"))
        pairs = tuple((str(directory / n), str(directory / (n[:-5] + ".key")))
                      for n in names if n.endswith(".cert") and (n[:-5] + ".key") in names)
        return TLSFiles(cas, pairs)

    def _endpoint(self, location: str, insecure: bool, mirror: bool) -> Endpoint:
        domain, _, repository = location.partition("/")
        host = api_host(domain)
        loopback = is_loopback(host)
        return Endpoint(host=host, repository=repository, scheme="https", insecure=insecure,
                        http_fallback=insecure or loopback, mirror=mirror,
                        tls=self.tls_files(host))

    def endpoints(self, ref: Reference) -> list[Endpoint]:
        """Where to pull ``ref`` from: usable mirrors in order, then the upstream."""
        name = ref.name
        entry = self.entry_for(name)
        if entry is None:
            return [self._endpoint(name, False, False)]
        if entry.blocked:
            raise PermissionDenied(f"cannot pull image {ref}: registry {entry.prefix} is blocked "
                                   f"by {self.path or 'the registry config'}")
        found = []
        for m in entry.mirrors:
            mode = "digest-only" if entry.mirror_by_digest_only else m.pull_from_mirror
            if (mode == "digest-only" and not ref.digest) or (mode == "tag-only" and ref.digest):
                continue
            found.append(self._endpoint(entry.rewrite(name, m.location), m.insecure, True))
        found.append(self._endpoint(entry.rewrite(name, entry.location), entry.insecure, False))
        return found

    def push_endpoint(self, ref: Reference) -> Endpoint:
        """Pushes go to the upstream location, never to a mirror (as podman does)."""
        return [e for e in self.endpoints(ref.with_digest(None)) if not e.mirror][-1]

    def registry_endpoint(self, host: str) -> Endpoint:
        """The upstream endpoint of a registry host itself (``/v2/``), for login checks."""
        host = "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host
        entry = self.entry_for(host)
        if entry is not None and entry.blocked:
            raise PermissionDenied(f"cannot log in to {host}: registry is blocked by "
                                   f"{self.path or 'the registry config'}")
        insecure = bool(entry and entry.insecure)
        return self._endpoint(host, insecure, False)

    def credentials(self, endpoint: Endpoint) -> Credentials | None:
        host = "docker.io" if endpoint.host == DOCKER_HUB_API_HOST else endpoint.host
        return self.credential_store.lookup(host, endpoint.repository)


def _specificity(entry: RegistryEntry) -> tuple[int, int]:
    # an exact prefix beats any wildcard; among wildcards the longer suffix wins
    return (0 if entry.prefix.startswith("*.") else 1, len(entry.prefix))
