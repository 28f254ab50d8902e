"""Image references, parsed and normalised the way Docker and containerd do.

``busybox`` means ``docker.io/library/busybox:latest``; ``host:5000/a/b@sha256:..``
keeps its host and digest. The grammar follows distribution's reference
package: lowercase path components joined by ``/``, an optional registry
domain (a first component with ``.`` or ``:``, or ``localhost``), an
optional tag and an optional digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hull.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
_ANCHORED_DOMAIN = re.compile(rf"^{_DOMAIN}$")
_ANCHORED_PATH = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class Reference:
    """A normalised image reference; ``tag`` and ``digest`` may both be set."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Repository name with its domain, e.g. ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def object(self) -> str:
        """What to ask the registry for: the digest when known, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def familiar(self) -> str:
        """The short form Docker prints: ``busybox:latest``, ``quay.io/a/b:1``."""
        name = self.path
        if self.domain != DEFAULT_DOMAIN:
            name = self.name
        elif name.startswith(OFFICIAL_REPO_PREFIX) and name.count("/") == 1:
            name = name[len(OFFICIAL_REPO_PREFIX):]
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    def with_tag(self, tag: str | None) -> "Reference":
        return Reference(self.domain, self.path, tag, self.digest)

    def with_digest(self, digest: str | None) -> "Reference":
        return Reference(self.domain, self.path, self.tag, digest)

    def with_name(self, domain: str, path: str) -> "Reference":
        return Reference(domain, path, self.tag, self.digest)


def _invalid(text: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"invalid image reference {text!r}: {why}")


def split_domain(name: str) -> tuple[str, str]:
    """Split a repository name into (domain, path), applying Docker's defaults."""
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"
                     and first.lower() == first):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return domain, path


def _check_digest(text: str, digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    expected = _DIGEST_HEX_LENGTH.get(algorithm)
    if expected is None:
        raise _invalid(text, f"unsupported digest algorithm {algorithm!r}")
    if len(hexpart) != expected or hexpart != hexpart.lower():
        raise _invalid(text, f"invalid {algorithm} digest: want {expected} lowercase hex characters")
    return digest


def _explain(text: str) -> str:
    """Why ``text`` does not match the grammar, in words a user can act on."""
    name = text.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    if not name:
        return "repository name is empty"
    if name.lower() != name and _REFERENCE.match(text.lower()):
        return "repository name must be lowercase"
    if "@" in text and not re.search(rf"@{_DIGEST}$", text):
        return "invalid digest format"
    first, slash, _ = name.partition("/")
    if slash and ("." in first or ":" in first) and not _ANCHORED_DOMAIN.match(first):
        return f"invalid registry host {first!r}"
    return "invalid reference format"


def parse(text: str) -> Reference:
    """Parse and normalise ``text``; :class:`InvalidArgument` names it and says why."""
    if not isinstance(text, str) or not text:
        raise _invalid(str(text), "reference is empty")
    if _IDENTIFIER.match(text):
        raise _invalid(text, "cannot specify 64-byte hexadecimal strings as a repository name")
    match = _REFERENCE.match(text)
    if not match:
        raise _invalid(text, _explain(text))
    name = match.group("name")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise _invalid(text, f"repository name longer than {NAME_TOTAL_LENGTH_MAX} characters")
    domain, path = split_domain(name)
    if not _ANCHORED_PATH.match(path):
        raise _invalid(text, "repository name must be lowercase" if path.lower() != path
                       else "invalid repository path")
    tag, digest = match.group("tag"), match.group("digest")
    if digest:
        digest = _check_digest(text, digest)
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def parse_name(text: str) -> tuple[str, str]:
    """Parse a repository name without tag or digest into (domain, path)."""
    ref = parse(text)
    if (ref.tag and ref.tag != DEFAULT_TAG) or ref.digest or text.endswith(":" + DEFAULT_TAG):
        raise _invalid(text, "a repository name takes no tag or digest")
    return ref.domain, ref.path
