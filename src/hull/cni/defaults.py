"""hull's default pod network, for a node whose conf dir is empty.

``ensure_default_config`` writes ``10-hull.conflist``: hull-bridge on
``hull0`` with hull-host-local over 10.88.0.0/16 (the subnet is the
caller's to change), hull-portmap for hostPorts and hull-loopback.
Nothing is written when the conf dir already holds a config.
"""

from __future__ import annotations

import json
import os

from hull.cni.config import config_files

DEFAULT_SUBNET = "10.88.0.0/16"
DEFAULT_BRIDGE = "hull0"
DEFAULT_NAME = "hull"
FILENAME = "10-hull.conflist"


def default_conflist(subnet: str = DEFAULT_SUBNET, bridge: str = DEFAULT_BRIDGE, name: str = DEFAULT_NAME,
                     data_dir: str | None = None, cni_version: str = "1.0.0") -> dict:
    """The default network as a conflist dict (1.0.0: the reference plugins can be swapped in)."""
    ipam = {"type": "hull-host-local", "ranges": [[{"subnet": subnet}]], "routes": []}
    if data_dir:
        ipam["dataDir"] = data_dir
    return {"cniVersion": cni_version, "name": name, "plugins": [
        {"type": "hull-bridge", "bridge": bridge, "isGateway": True, "isDefaultGateway": True,
         "ipMasq": False, "hairpinMode": True, "ipam": ipam,
         "capabilities": {"ips": True, "mac": True}},
        {"type": "hull-portmap", "capabilities": {"portMappings": True}},
        {"type": "hull-loopback"},
    ]}


def ensure_default_config(conf_dir: str, **options) -> str | None:
    """Write the default conflist if ``conf_dir`` has none; returns the path written, or None."""
    if config_files(conf_dir):
        return None
    os.makedirs(conf_dir, exist_ok=True)
    path = os.path.join(conf_dir, FILENAME)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(default_conflist(**options), f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    return path
