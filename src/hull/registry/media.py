"""Media types, descriptors and platform matching for OCI and Docker manifests."""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field
from typing import Any, Mapping

from hull.errors import InvalidArgument

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
SCHEMA1 = (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
#: Accept header for manifest requests, preferred types first
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST,
                             f"{DOCKER_SCHEMA1_SIGNED};q=0.5", f"{DOCKER_SCHEMA1};q=0.5"))

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386", "ppc64el": "ppc64le"}


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (mediaType, digest, size and friends)."""

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Descriptor":
        try:
            size = int(data["size"])
            digest = str(data["digest"])
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgument(f"invalid descriptor {dict(data)!r}: missing or bad {e}") from e
        if size < 0 or ":" not in digest:
            raise InvalidArgument(f"invalid descriptor {dict(data)!r}: bad digest or size")
        return cls(media_type=str(data.get("mediaType", "")), digest=digest, size=size,
                   urls=tuple(data.get("urls") or ()), annotations=dict(data.get("annotations") or {}),
                   platform=data.get("platform"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out


def as_descriptor(value: "Descriptor | Mapping[str, Any]") -> Descriptor:
    return value if isinstance(value, Descriptor) else Descriptor.from_dict(value)


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def normalize_arch(arch: str, variant: str = "") -> tuple[str, str]:
    arch = _ARCH_ALIASES.get(arch.lower(), arch.lower())
    variant = variant.lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""
    elif arch == "arm" and variant in ("", "7"):
        variant = "v7"
    elif arch == "arm" and variant.isdigit():
        variant = "v" + variant
    elif arch == "amd64" and variant == "v1":
        variant = ""
    return arch, variant


def parse_platform(text: str) -> Platform:
    """``linux/amd64``, ``linux/arm64/v8``, ``amd64`` (os linux) -> Platform."""
    parts = [p for p in text.strip().split("/")]
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: want os/arch[/variant]")
    if len(parts) == 1:
        parts = ["linux", parts[0]]
    arch, variant = normalize_arch(parts[1], parts[2] if len(parts) == 3 else "")
    return Platform(parts[0].lower(), arch, variant)


def host_platform() -> Platform:
    return parse_platform(f"linux/{_platform.machine()}")


def platform_matches(wanted: Platform, candidate: Mapping[str, Any] | None) -> int:
    """0 when ``candidate`` does not run on ``wanted``; higher is a better match."""
    if not candidate:
        return 0
    arch, variant = normalize_arch(str(candidate.get("architecture", "")),
                                   str(candidate.get("variant", "")))
    if str(candidate.get("os", "")).lower() != wanted.os or arch != wanted.architecture:
        return 0
    if variant == wanted.variant:
        return 3
    if not wanted.variant or not variant:
        return 2
    # an older arm variant runs on a newer cpu (v6 binaries on v7), not the reverse
    if arch == "arm" and variant < wanted.variant:
        return 1
    return 0


def sniff_media_type(content_type: str, body: bytes) -> str:
    """The manifest's media type: its own ``mediaType`` field, else the header, else its shape."""
    declared = content_type.split(";", 1)[0].strip().lower()
    try:
        doc = json.loads(body)
    except ValueError:
        return declared
    if not isinstance(doc, dict):
        return declared
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1_SIGNED if "signatures" in doc else DOCKER_SCHEMA1
    if isinstance(doc.get("mediaType"), str) and doc["mediaType"]:
        return doc["mediaType"]
    if declared in MANIFESTS + INDEXES + SCHEMA1:
        return declared
    if "manifests" in doc:
        return OCI_INDEX
    if "layers" in doc and "config" in doc:
        return OCI_MANIFEST
    return declared
