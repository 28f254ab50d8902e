"""The value types the image store hands out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Image:
    id: str                          # "sha256:<config digest hex>"
    repo_tags: list[str]
    repo_digests: list[str]
    size: int                        # config + compressed layers
    config: dict                     # the OCI image config document
    manifest_digest: str
    chain_ids: list[str]
    created: str | None = None
    manifest_media_type: str = ""
    index_digest: str | None = None

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]

    @property
    def top_chain_id(self) -> str | None:
        return self.chain_ids[-1] if self.chain_ids else None

    def to_dict(self) -> dict:
        return {"Id": self.id, "RepoTags": self.repo_tags, "RepoDigests": self.repo_digests,
                "Size": self.size, "Created": self.created, "ManifestDigest": self.manifest_digest,
                "ManifestMediaType": self.manifest_media_type, "IndexDigest": self.index_digest,
                "ChainIDs": self.chain_ids, "Config": self.config}


@dataclass
class GcReport:
    removed_blobs: list[str] = field(default_factory=list)
    removed_snapshots: list[str] = field(default_factory=list)
    removed_ingests: list[str] = field(default_factory=list)
    reclaimed_bytes: int = 0


@dataclass
class ProgressEvent:
    """One step of a layer's pull, for progress bars (see hull.cli.image)."""
    id: str                          # layer digest
    action: str                      # waiting | exists | downloading | verifying | done | failed
    current: int = 0
    total: int = 0
