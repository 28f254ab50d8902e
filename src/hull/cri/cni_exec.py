"""A minimal CNI runtime used only while ``hull.cni`` is not installed.

It loads the first network config list in the conf dir and runs its plugin
chain (ADD in order, DEL in reverse) as the CNI spec describes, with
prevResult threaded through. ``network.PodNetwork`` prefers ``hull.cni.CNI``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field

from hull.errors import FailedPrecondition, Internal, Unavailable


@dataclass
class Result:
    ips: list[str] = field(default_factory=list)
    interfaces: list = field(default_factory=list)
    routes: list = field(default_factory=list)
    dns: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


class ExecCNI:
    def __init__(self, conf_dir: str, bin_dirs: list[str], cache_dir: str):
        self.conf_dir, self.bin_dirs, self.cache_dir = conf_dir, list(bin_dirs), cache_dir

    def _config(self) -> dict:
        try:
            names = sorted(n for n in os.listdir(self.conf_dir)
                           if n.endswith((".conflist", ".conf", ".json")))
        except FileNotFoundError:
            names = []
        if not names:
            raise Unavailable(f"cannot load network config: no network config in {self.conf_dir}")
        with open(os.path.join(self.conf_dir, names[0])) as f:
            doc = json.load(f)
        if "plugins" not in doc:
            doc = {"cniVersion": doc.get("cniVersion", "0.4.0"), "name": doc.get("name"),
                   "plugins": [doc]}
        return doc

    def _binary(self, plugin_type: str) -> str:
        for d in self.bin_dirs:
            path = os.path.join(d, plugin_type)
            if os.access(path, os.X_OK):
                return path
        raise Unavailable(f"cannot find CNI plugin {plugin_type} in {':'.join(self.bin_dirs)}")

    def _invoke(self, command: str, plugin: dict, conf: dict, container_id: str, netns: str,
                ifname: str, args: dict, prev: dict | None, capabilities: dict) -> dict:
        net = dict(plugin, cniVersion=conf["cniVersion"], name=conf["name"])
        wanted = {k: v for k, v in capabilities.items()
                  if (plugin.get("capabilities") or {}).get(k)}
        if wanted:
            net["runtimeConfig"] = wanted
        if prev is not None:
            net["prevResult"] = prev
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns,
               "CNI_IFNAME": ifname, "CNI_PATH": ":".join(self.bin_dirs),
               "CNI_ARGS": ";".join(f"{k}={v}" for k, v in args.items()),
               "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        proc = subprocess.run([self._binary(plugin["type"])], input=json.dumps(net).encode(),
                              capture_output=True, env=env, timeout=120)
        if proc.returncode != 0:
            try:
                err = json.loads(proc.stdout)
                cause = f"{err.get('msg')}: {err.get('details', '')}".rstrip(": ")
            except ValueError:
                cause = (proc.stderr or proc.stdout).decode(errors="replace").strip()
            raise Internal(f"cannot {command} network of {container_id}: plugin "
                           f"{plugin['type']}: {cause}")
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    def setup(self, container_id: str, netns: str, ifname: str = "eth0", args: dict | None = None,
              capabilities: dict | None = None) -> Result:
        conf = self._config()
        prev = None
        for plugin in conf["plugins"]:
            prev = self._invoke("ADD", plugin, conf, container_id, netns, ifname, args or {},
                                prev, capabilities or {})
        prev = prev or {}
        self._save(container_id, conf, capabilities or {}, args or {})
        ips = [ip["address"].split("/")[0] for ip in prev.get("ips", [])]
        return Result(ips=ips, interfaces=prev.get("interfaces", []),
                      routes=prev.get("routes", []), dns=prev.get("dns", {}), raw=prev)

    def teardown(self, container_id: str, netns: str, ifname: str = "eth0",
                 args: dict | None = None, capabilities: dict | None = None) -> None:
        saved = self._load(container_id)
        conf = saved.get("conf") or self._config()
        caps = saved.get("capabilities", capabilities or {})
        for plugin in reversed(conf["plugins"]):
            self._invoke("DEL", plugin, conf, container_id, netns, ifname,
                         saved.get("args", args or {}), None, caps)
        try:
            os.unlink(self._cache(container_id))
        except FileNotFoundError:
            pass

    def status(self) -> None:
        conf = self._config()
        for plugin in conf["plugins"]:
            self._binary(plugin["type"])

    def _cache(self, container_id: str) -> str:
        return os.path.join(self.cache_dir, f"{container_id}.json")

    def _save(self, container_id: str, conf: dict, capabilities: dict, args: dict) -> None:
        os.makedirs(self.cache_dir, exist_ok=True)
        tmp = self._cache(container_id) + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"conf": conf, "capabilities": capabilities, "args": args}, f)
        os.replace(tmp, self._cache(container_id))

    def _load(self, container_id: str) -> dict:
        try:
            with open(self._cache(container_id)) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return {}


__all__ = ["ExecCNI", "Result", "FailedPrecondition"]
