"""The attachment cache: what ADD returned, kept for DEL, CHECK and GC.

One JSON file per attachment at ``<cache_dir>/results/<network>-<containerID>-<ifname>``,
the layout and fields of libcni's ``/var/lib/cni/results`` (kind ``cniCacheV1``):

    {"kind": "cniCacheV1", "containerId": "...", "ifName": "eth0",
     "networkName": "hull", "netns": "/var/run/netns/...",
     "config": "<base64 of the conflist bytes used for ADD>",
     "cniArgs": [["K8S_POD_NAME", "web"], ...], "capabilityArgs": {"portMappings": [...]},
     "result": {<the chain's final result, in the conflist's cniVersion>}}

Written atomically (temp file, fsync, rename) before ADD returns, so a
restarted runtime can DEL with the same config, prevResult and capability
arguments, and GC can enumerate attachments.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field

from hull.errors import from_oserror

KIND = "cniCacheV1"


@dataclass
class Attachment:
    network: str
    container_id: str
    ifname: str
    netns: str = ""
    config: bytes = b""
    args: dict[str, str] = field(default_factory=dict)
    capabilities: dict = field(default_factory=dict)
    result: dict | None = None

    def to_json(self) -> dict:
        return {"kind": KIND, "containerId": self.container_id, "ifName": self.ifname,
                "networkName": self.network, "netns": self.netns,
                "config": base64.b64encode(self.config).decode(),
                "cniArgs": [[k, v] for k, v in self.args.items()],
                "capabilityArgs": self.capabilities, "result": self.result}

    @classmethod
    def from_json(cls, data: dict) -> "Attachment":
        if data.get("kind") != KIND:
            raise ValueError(f"unknown cache kind {data.get('kind')!r}")
        return cls(network=data["networkName"], container_id=data["containerId"],
                   ifname=data["ifName"], netns=data.get("netns", ""),
                   config=base64.b64decode(data.get("config") or ""),
                   args={k: v for k, v in data.get("cniArgs") or []},
                   capabilities=data.get("capabilityArgs") or {}, result=data.get("result"))


class ResultCache:
    def __init__(self, cache_dir: str):
        self.dir = os.path.join(cache_dir, "results")

    def path(self, network: str, container_id: str, ifname: str) -> str:
        return os.path.join(self.dir, f"{network}-{container_id}-{ifname}")

    def save(self, att: Attachment) -> None:
        path = self.path(att.network, att.container_id, att.ifname)
        tmp = f"{path}.tmp.{os.getpid()}"
        try:
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
            with open(tmp, "w") as f:
                json.dump(att.to_json(), f)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, path)
        except OSError as e:
            raise from_oserror(e, f"cannot save CNI result cache {path}") from e

    def load(self, network: str, container_id: str, ifname: str) -> Attachment | None:
        path = self.path(network, container_id, ifname)
        try:
            with open(path) as f:
                return Attachment.from_json(json.load(f))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # a torn or foreign file: treat as absent, DEL still runs
        except OSError as e:
            raise from_oserror(e, f"cannot read CNI result cache {path}") from e

    def remove(self, network: str, container_id: str, ifname: str) -> None:
        try:
            os.unlink(self.path(network, container_id, ifname))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise from_oserror(e, "cannot remove CNI result cache") from e

    def list(self, network: str | None = None) -> list[Attachment]:
        """Every cached attachment (of ``network`` when given)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        found = []
        for name in sorted(names):
            if ".tmp." in name or (network is not None and not name.startswith(network + "-")):
                continue
            try:
                with open(os.path.join(self.dir, name)) as f:
                    att = Attachment.from_json(json.load(f))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if network is None or att.network == network:
                found.append(att)
        return found
