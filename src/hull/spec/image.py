"""OCI image-spec data: media types, descriptors, manifests, indexes, configs.

Pure data and validation; imports nothing of hull. Parsing functions raise
``ValueError`` with a message naming the field; callers turn it into their
error category. Docker schema 2 types are accepted next to the OCI ones
because registries still serve them; Docker schema 1 is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_LAYOUT_VERSION = "1.0.0"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)

# layer media type -> compression ("" = none)
LAYER_COMPRESSION = {
    OCI_LAYER: "", OCI_LAYER_ND: "",
    OCI_LAYER_GZIP: "gzip", OCI_LAYER_ND_GZIP: "gzip",
    DOCKER_LAYER_GZIP: "gzip", DOCKER_LAYER_FOREIGN_GZIP: "gzip",
    "application/vnd.docker.image.rootfs.diff.tar": "",
    OCI_LAYER_ZSTD: "zstd", OCI_LAYER_ND_ZSTD: "zstd",
}

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_EXPOSED_PORTS = "org.opencontainers.image.exposedPorts"
ANNOTATION_STOP_SIGNAL = "org.opencontainers.image.stopSignal"
ANNOTATION_VOLUMES = "io.hull.image.volumes"

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")


def valid_digest(digest: str) -> bool:
    return isinstance(digest, str) and bool(_DIGEST.match(digest))


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict = field(default_factory=dict, compare=False, hash=False)
    platform: dict | None = field(default=None, compare=False, hash=False)
    urls: tuple = field(default=(), compare=False, hash=False)

    @classmethod
    def from_dict(cls, raw: dict, where: str = "descriptor") -> "Descriptor":
        if not isinstance(raw, dict):
            raise ValueError(f"{where} is not an object")
        digest, size, media_type = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
        if not valid_digest(digest):
            raise ValueError(f"{where} has an invalid digest {digest!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{where} has an invalid size {size!r}")
        if not isinstance(media_type, str):
            raise ValueError(f"{where} has an invalid mediaType")
        return cls(media_type, digest, size, dict(raw.get("annotations") or {}),
                   raw.get("platform"), tuple(raw.get("urls") or ()))

    def to_dict(self) -> dict:
        out = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.urls:
            out["urls"] = list(self.urls)
        return out

    def get(self, key: str, default=None):
        """Dict-style access, so code written against descriptor dicts keeps working."""
        return self.to_dict().get(key, default)

    def __getitem__(self, key: str):
        return self.to_dict()[key]


def as_descriptor(value) -> Descriptor:
    """Accept a Descriptor, a dict, or any object with mediaType-ish attributes."""
    if isinstance(value, Descriptor):
        return value
    if isinstance(value, dict):
        return Descriptor.from_dict(value)
    media_type = getattr(value, "media_type", None) or getattr(value, "mediaType", "")
    return Descriptor(media_type, value.digest, value.size,
                      dict(getattr(value, "annotations", None) or {}))


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple
    annotations: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: tuple
    annotations: dict = field(default_factory=dict, compare=False)


def _load(data: bytes, what: str) -> dict:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{what} is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ValueError(f"{what} is not a JSON object")
    return doc


def detect_media_type(data: bytes, declared: str = "") -> str:
    """The media type of a manifest or index, from the declaration or the document."""
    if declared and declared not in ("application/json", "text/plain"):
        return declared
    doc = _load(data, "manifest")
    if doc.get("mediaType"):
        return doc["mediaType"]
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1[0]
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def check_supported(media_type: str) -> None:
    if media_type in DOCKER_SCHEMA1:
        raise ValueError("Docker schema 1 manifests are not supported "
                         "(deprecated; push the image again with a current client)")
    if media_type not in MANIFEST_TYPES + INDEX_TYPES:
        raise ValueError(f"unsupported manifest media type {media_type!r}")


def parse_manifest(data: bytes, media_type: str = "") -> Manifest:
    media_type = detect_media_type(data, media_type)
    check_supported(media_type)
    if media_type not in MANIFEST_TYPES:
        raise ValueError(f"expected an image manifest, got {media_type!r}")
    doc = _load(data, "manifest")
    if doc.get("schemaVersion") != 2:
        raise ValueError(f"manifest schemaVersion is {doc.get('schemaVersion')!r}, expected 2")
    config = Descriptor.from_dict(doc.get("config"), "manifest config")
    raw_layers = doc.get("layers")
    if not isinstance(raw_layers, list):
        raise ValueError("manifest layers is not a list")
    layers = tuple(Descriptor.from_dict(layer, f"manifest layer {i}")
                   for i, layer in enumerate(raw_layers))
    for layer in layers:
        if layer.media_type not in LAYER_COMPRESSION:
            raise ValueError(f"unsupported layer media type {layer.media_type!r} ({layer.digest})")
    return Manifest(media_type, config, layers, dict(doc.get("annotations") or {}))


def parse_index(data: bytes, media_type: str = "") -> Index:
    media_type = detect_media_type(data, media_type)
    check_supported(media_type)
    if media_type not in INDEX_TYPES:
        raise ValueError(f"expected an image index, got {media_type!r}")
    doc = _load(data, "index")
    raw = doc.get("manifests")
    if not isinstance(raw, list):
        raise ValueError("index manifests is not a list")
    manifests = tuple(Descriptor.from_dict(m, f"index entry {i}") for i, m in enumerate(raw))
    return Index(media_type, manifests, dict(doc.get("annotations") or {}))


def parse_config(data: bytes) -> dict:
    """An image config; checks the parts hull relies on (rootfs.diff_ids)."""
    doc = _load(data, "image config")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise ValueError("image config rootfs.type is not 'layers'")
    diff_ids = rootfs.get("diff_ids")
    if not isinstance(diff_ids, list) or not all(valid_digest(d) for d in diff_ids):
        raise ValueError("image config rootfs.diff_ids is not a list of digests")
    if not isinstance(doc.get("config", {}) or {}, dict):
        raise ValueError("image config 'config' is not an object")
    return doc


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(sha256_digest(f"{out[-1]} {diff_id}".encode()))
    return out


def parse_platform(text: str) -> dict:
    """"linux/amd64" or "linux/arm64/v8" -> {"os", "architecture", "variant"?}."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"invalid platform {text!r}, expected os/arch[/variant]")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def platform_matches(candidate: dict | None, wanted: dict) -> bool:
    if not candidate:
        return False
    if candidate.get("os") != wanted["os"] or candidate.get("architecture") != wanted["architecture"]:
        return False
    variant = wanted.get("variant")
    return not variant or candidate.get("variant") in (None, variant)


def platform_text(platform: dict | None) -> str:
    platform = platform or {}
    values = (platform.get(k) for k in ("os", "architecture", "variant"))
    return "/".join(v for v in values if v) or "unknown"


def select_manifest(index: Index, platform: str) -> Descriptor:
    wanted = parse_platform(platform)
    for entry in index.manifests:
        if entry.media_type in MANIFEST_TYPES and platform_matches(entry.platform, wanted):
            return entry
    offered = ", ".join(sorted({platform_text(m.platform) for m in index.manifests})) or "none"
    raise ValueError(f"no manifest for platform {platform} (index offers: {offered})")


def canonical_json(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
