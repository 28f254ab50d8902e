"""The objects a manifest holds, after loading and validation.

Pods keep their spec as the (validated, defaulted) Kubernetes dict: the
translation to CRI reads it field by field, and the supervisor stores it
as JSON, so one shape serves the file, the database and ``get -o yaml``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field


@dataclass
class Source:
    """Where an object came from, for messages: ``web.yaml document 2 (Pod web)``."""
    file: str
    index: int

    def __str__(self) -> str:
        return f"{self.file} document {self.index + 1}"


@dataclass
class Pod:
    name: str
    namespace: str
    spec: dict
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    source: Source | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def containers(self) -> list[dict]:
        return list(self.spec.get("containers") or [])

    def init_containers(self) -> list[dict]:
        return list(self.spec.get("initContainers") or [])

    def to_dict(self) -> dict:
        meta = {"name": self.name, "namespace": self.namespace}
        if self.labels:
            meta["labels"] = dict(self.labels)
        if self.annotations:
            meta["annotations"] = dict(self.annotations)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": self.spec}

    @classmethod
    def from_dict(cls, doc: dict) -> "Pod":
        meta = doc.get("metadata") or {}
        return cls(meta["name"], meta.get("namespace", "default"), doc.get("spec") or {},
                   dict(meta.get("labels") or {}), dict(meta.get("annotations") or {}))


@dataclass
class Claim:
    """A PersistentVolumeClaim: a CSI volume named after it."""
    name: str
    namespace: str
    size: int
    access_modes: list[str]
    storage_class: str = ""
    volume_mode: str = "Filesystem"
    source: Source | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def volume_name(self) -> str:
        """The CSI volume name: stable, so the same claim finds its data again."""
        return f"hull-play-{self.namespace}-{self.name}"


@dataclass
class ConfigMap:
    name: str
    namespace: str
    data: dict[str, bytes]
    source: Source | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Secret(ConfigMap):
    type: str = "Opaque"


def config_map_data(doc: dict) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (doc.get("data") or {}).items()}
    for key, value in (doc.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    return data


@dataclass
class Manifest:
    pods: list[Pod] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    config_maps: list[ConfigMap] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return next((c for c in self.config_maps
                     if c.namespace == namespace and c.name == name), None)

    def secret(self, namespace: str, name: str) -> Secret | None:
        return next((s for s in self.secrets if s.namespace == namespace and s.name == name),
                    None)

    def claim(self, namespace: str, name: str) -> Claim | None:
        return next((c for c in self.claims if c.namespace == namespace and c.name == name),
                    None)
