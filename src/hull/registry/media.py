"""Media types, descriptors and platform matching for OCI and Docker manifests.

The types themselves are hull.spec.image's; this adds the Accept header,
platform matching and media type sniffing the client needs.
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass
from typing import Any, Mapping

from hull.errors import InvalidArgument

from hull.spec import image as _spec
from hull.spec.image import (DOCKER_CONFIG, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_CONFIG,
                             OCI_INDEX, OCI_MANIFEST, Descriptor)

DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED = _spec.DOCKER_SCHEMA1

MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
SCHEMA1 = (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
#: Accept header for manifest requests, preferred types first
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST,
                             f"{DOCKER_SCHEMA1_SIGNED};q=0.5", f"{DOCKER_SCHEMA1};q=0.5"))

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386", "ppc64el": "ppc64le"}


def as_descriptor(value: "Descriptor | Mapping[str, Any]", where: str = "descriptor") -> Descriptor:
    """A hull.spec.image Descriptor from a Descriptor or its JSON dict; InvalidArgument if bad."""
    if isinstance(value, Descriptor):
        return value
    try:
        return Descriptor.from_dict(dict(value), where) if isinstance(value, Mapping) \
            else _spec.as_descriptor(value)
    except (ValueError, TypeError, AttributeError) as e:
        raise InvalidArgument(f"invalid {where}: {e}") from e


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
