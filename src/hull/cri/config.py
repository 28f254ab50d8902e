"""hulld's configuration: a TOML file, then command-line flags on top.

    socket = "/run/hull/hull.sock"
    root = "/var/lib/hull"
    state = "/run/hull"
    default_runtime = "hull"
    registries_conf = "/etc/hull/registries.conf"
    log_level = "info"
    cgroup_parent = "/hull"            # used when a pod asks for none
    stream_address = "127.0.0.1:0"     # streaming server (exec/attach/port-forward)

    [cni]
    conf_dir = "/etc/cni/net.d"
    bin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]

    [runtimes.runc]
    path = "/usr/sbin/runc"
"""

from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hull.errors import InvalidArgument, NotFound

DEFAULT_SOCKET = "/run/hull/hull.sock"
DEFAULT_ROOT = "/var/lib/hull"
DEFAULT_STATE = "/run/hull"
DEFAULT_CNI_CONF = "/etc/cni/net.d"
DEFAULT_CNI_BIN = ["/opt/cni/bin", "/usr/lib/cni"]
CONMON = "/usr/bin/conmon"


@dataclass
class RuntimeHandlerConfig:
    name: str
    path: str
    #: extra arguments for every runtime call (e.g. --systemd-cgroup)
    args: list[str] = field(default_factory=list)


@dataclass
class Config:
    socket: str = DEFAULT_SOCKET
    root: str = DEFAULT_ROOT
    state: str = DEFAULT_STATE
    cni_conf_dir: str = DEFAULT_CNI_CONF
    cni_bin_dirs: list[str] = field(default_factory=lambda: list(DEFAULT_CNI_BIN))
    runtimes: dict[str, RuntimeHandlerConfig] = field(default_factory=dict)
    default_runtime: str = ""
    registries_conf: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    conmon: str = CONMON
    cgroup_parent: str = "/hull"
    stream_address: str = "127.0.0.1:0"
    #: "module:attribute" of an image store class (default hull.images:ImageStore)
    image_store: str = "hull.images:ImageStore"

    @property
    def default_handler(self) -> RuntimeHandlerConfig:
        return self.runtimes[self.default_runtime]

    def handler(self, name: str) -> RuntimeHandlerConfig:
        try:
            return self.runtimes[name or self.default_runtime]
        except KeyError:
            raise NotFound(f"cannot find runtime handler {name!r}: configured handlers are "
                           f"{', '.join(sorted(self.runtimes))}") from None


def discovered_runtimes() -> dict[str, RuntimeHandlerConfig]:
    """The runc-compatible binaries on this machine, hull-runc first."""
    found = {}
    venv_runc = Path(__file__).resolve().parents[3] / ".venv/bin/hull-runc"
    for name, candidates in (("hull", [str(venv_runc), "hull-runc"]),
                             ("runc", ["runc"]), ("crun", ["crun"])):
        for candidate in candidates:
            path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
            if path and os.access(path, os.X_OK):
                found[name] = RuntimeHandlerConfig(name, path)
                break
    return found


def _table(doc: dict, key: str, path: str) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise InvalidArgument(f"cannot load config {path}: [{key}] must be a table")
    return value


def load(path: str | None) -> Config:
    """The config from ``path`` (defaults when None)."""
    config = Config(runtimes=discovered_runtimes())
    if path is None:
        return config
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError as e:
        raise NotFound(f"cannot load config {path}: no such file") from e
    except tomllib.TOMLDecodeError as e:
        raise InvalidArgument(f"cannot load config {path}: {e}") from e
    for key in ("socket", "root", "state", "default_runtime", "registries_conf", "log_level",
                "log_format", "conmon", "cgroup_parent", "stream_address", "image_store"):
        if key in doc:
            setattr(config, key, str(doc[key]))
    cni = _table(doc, "cni", path)
    config.cni_conf_dir = str(cni.get("conf_dir", config.cni_conf_dir))
    config.cni_bin_dirs = [str(d) for d in cni.get("bin_dirs", config.cni_bin_dirs)]
    for name, table in _table(doc, "runtimes", path).items():
        if not isinstance(table, dict) or "path" not in table:
            raise InvalidArgument(f"cannot load config {path}: [runtimes.{name}] needs a path")
        config.runtimes[name] = RuntimeHandlerConfig(name, str(table["path"]),
                                                     [str(a) for a in table.get("args", [])])
    return config


def add_runtime_flag(config: Config, spec: str) -> None:
    """Apply one ``--runtime-handler NAME=PATH`` flag."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise InvalidArgument(f"cannot parse runtime handler {spec!r}: expected NAME=PATH")
    config.runtimes[name] = RuntimeHandlerConfig(name, path)


def finish(config: Config) -> Config:
    """Pick the default handler and check the result is usable."""
    if not config.runtimes:
        raise NotFound("cannot configure runtimes: no runc-compatible runtime found "
                       "(install runc or crun, or pass --runtime-handler NAME=PATH)")
    if not config.default_runtime:
        config.default_runtime = next(n for n in ("hull", "runc", "crun", *config.runtimes)
                                      if n in config.runtimes)
    if config.default_runtime not in config.runtimes:
        raise InvalidArgument(f"cannot use default runtime {config.default_runtime!r}: "
                              f"not among {', '.join(sorted(config.runtimes))}")
    return config
