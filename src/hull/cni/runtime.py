"""The CNI runtime: what libcni does for containerd, for hulld.

``CNI.setup`` runs ADD through the plugin chain, passing each result on as
``prevResult``; a failed ADD is undone with DEL (reverse order) before the
error, which names the plugin, is raised. The final result is cached (see
``hull.cni.cache``) so ``teardown``, ``check`` and ``gc`` work after a
restart. Every plugin call has a timeout.
"""

from __future__ import annotations

import json
import logging
import os
import threading

from hull import errors
from hull.cni.cache import Attachment, ResultCache
from hull.cni.config import dir_signature, load_network
from hull.cni.invoke import Invocation, PluginExec, SubprocessExec, find_plugin
from hull.spec.cni import (ERR_INCOMPATIBLE_VERSION, SUPPORTED_VERSIONS, NetworkConfigList, PluginConf,
                           Result, at_least, conflist_from_dict, convert_result, parse_result,
                           plugin_stdin, version_tuple)

log = logging.getLogger("hull.cni")

DEFAULT_CONF_DIR = "/etc/cni/net.d"
DEFAULT_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")
DEFAULT_CACHE_DIR = "/var/lib/hull/cni"
_BAD_IFNAME_CHARS = set("/: \t\n")


def _validate_ids(container_id: str, ifname: str) -> None:
    if not container_id or not all(c.isalnum() or c in "_.-" for c in container_id):
        raise errors.InvalidArgument(f"cannot attach container {container_id!r}: "
                                     "the id must be non-empty and alphanumeric (plus _.-)")
    if not ifname or len(ifname) > 15 or ifname in (".", "..") or _BAD_IFNAME_CHARS & set(ifname):
        raise errors.InvalidArgument(f"cannot attach container {container_id}: invalid interface "
                                     f"name {ifname!r} (1-15 chars, no / : or whitespace)")


class CNI:
    """One node's CNI runtime: a conf dir, plugin bin dirs and a result cache."""

    def __init__(self, conf_dir: str = DEFAULT_CONF_DIR, bin_dirs=DEFAULT_BIN_DIRS,
                 cache_dir: str = DEFAULT_CACHE_DIR, timeout: float = 30.0, *,
                 exec: PluginExec | None = None, network_name: str | None = None):
        self.conf_dir = conf_dir
        self.bin_dirs = tuple(bin_dirs)
        self.timeout = timeout
        self.cache = ResultCache(cache_dir)
        self.exec = exec or SubprocessExec()
        self.network_name = network_name
        self._lock = threading.Lock()
        self._loaded: tuple[tuple, NetworkConfigList] | None = None
        self._versions: dict[tuple, list[str]] = {}

    # ------------------------------------------------------------ config

    @property
    def network(self) -> NetworkConfigList:
        """The network in use, reloaded whenever the conf dir changes."""
        signature = dir_signature(self.conf_dir)
        with self._lock:
            if self._loaded and self._loaded[0] == signature:
                return self._loaded[1]
        net = load_network(self.conf_dir, self.network_name)
        with self._lock:
            self._loaded = (signature, net)
        return net

    # ------------------------------------------------------------ verbs

    def setup(self, container_id: str, netns: str, ifname: str = "eth0", *,
              args: dict[str, str] | None = None, capabilities: dict | None = None) -> Result:
        """ADD the container to the network; undo everything on failure."""
        _validate_ids(container_id, ifname)
        net = self.network
        what = f"cannot set up network {net.name} for container {container_id}"
        if not netns or not os.path.exists(netns):
            raise errors.NotFound(f"{what}: network namespace {netns!r} does not exist")
        if self.cache.load(net.name, container_id, ifname) is not None:
            # A second ADD would fail on the existing interface, and its rollback DEL
            # would then tear down the working attachment.
            raise errors.AlreadyExists(f"{what}/{ifname}: already attached; tear it down first")
        inv = self._invocation("ADD", container_id, netns, ifname, args)
        caps = dict(capabilities or {})
        result: dict | None = None
        for index, plugin in enumerate(net.plugins):
            try:
                result = self._call(net, plugin, inv, caps, result, want_result=True)
            except errors.HullError as e:
                self._rollback(net, net.plugins[:index + 1], inv, caps, result, e)
                raise
        if result is None:
            raise errors.Internal(f"{what}: the chain returned no result")
        self.cache.save(Attachment(network=net.name, container_id=container_id, ifname=ifname,
                                   netns=netns, config=net.bytes, args=dict(args or {}),
                                   capabilities=caps, result=result))
        return parse_result(result)

    def teardown(self, container_id: str, netns: str, ifname: str = "eth0", *,
                 args: dict[str, str] | None = None, capabilities: dict | None = None) -> None:
        """DEL in reverse order; succeeds when already gone; uses the cache after a restart."""
        _validate_ids(container_id, ifname)
        cached = self._cached(container_id, ifname)
        net = self._network_for(cached)
        if net is None:
            return  # no config and nothing cached: nothing we could have set up
        inv = self._invocation("DEL", container_id, netns or (cached.netns if cached else ""), ifname,
                               args if args is not None else (cached.args if cached else None))
        caps = capabilities if capabilities is not None else (cached.capabilities if cached else {})
        prev = cached.result if cached else None
        failures = self._delete_chain(net, net.plugins, inv, caps, prev)
        if failures:
            raise failures[0]
        self.cache.remove(net.name, container_id, ifname)

    def check(self, container_id: str, netns: str, ifname: str = "eth0") -> None:
        """CHECK every plugin against the cached result; raises what the first plugin reports."""
        _validate_ids(container_id, ifname)
        net = self.network
        what = f"cannot check network {net.name} for container {container_id}"
        if not at_least(net.cni_version, "0.4.0"):
            raise errors.FailedPrecondition(f"{what}: CHECK needs cniVersion >= 0.4.0, "
                                            f"config has {net.cni_version}")
        if net.disable_check:
            return
        cached = self.cache.load(net.name, container_id, ifname)
        if cached is None or cached.result is None:
            raise errors.NotFound(f"{what}/{ifname}: no cached result (was it set up?)")
        inv = self._invocation("CHECK", container_id, netns, ifname, cached.args)
        prev = convert_result(cached.result, net.cni_version)
        for plugin in net.plugins:
            self._call(net, plugin, inv, cached.capabilities, prev, want_result=False)

    def status(self) -> None:
        """Raise (Unavailable / NotFound / InvalidArgument) with the reason when not ready."""
        net = self.network
        for plugin in net.plugins:
            path = find_plugin(plugin.type, self.bin_dirs)
            if not at_least(net.cni_version, "1.1.0") or not self._supports(path, "1.1.0"):
                continue  # STATUS is a 1.1 verb; older plugins are ready once found
            inv = Invocation("STATUS", path=self.bin_dirs)
            self._call(net, plugin, inv, {}, None, want_result=False, version="1.1.0")

    def gc(self, valid: list[tuple[str, str]]) -> None:
        """DEL cached attachments not in ``valid``, then GC (1.1) every plugin."""
        net = self.network
        keep = {(cid, ifname) for cid, ifname in valid}
        failures: list[errors.HullError] = []
        for att in self.cache.list(net.name):
            if (att.container_id, att.ifname) in keep:
                continue
            try:
                self.teardown(att.container_id, att.netns, att.ifname)
            except errors.HullError as e:
                failures.append(e)
        if at_least(net.cni_version, "1.1.0") and not net.disable_gc:
            attachments = [{"containerID": cid, "ifname": ifname} for cid, ifname in sorted(keep)]
            for plugin in net.plugins:
                path = find_plugin(plugin.type, self.bin_dirs)
                if not self._supports(path, "1.1.0"):
                    continue
                stdin = plugin_stdin(net, plugin, "1.1.0")
                stdin["cni.dev/valid-attachments"] = attachments
                try:
                    self.exec.run(path, Invocation("GC", path=self.bin_dirs),
                                  json.dumps(stdin).encode(), self.timeout)
                except errors.HullError as e:
                    failures.append(e)
        if failures:
            raise failures[0]

    def plugin_versions(self, plugin_type: str) -> list[str]:
        """The CNI versions a plugin says it supports (VERSION)."""
        return self._plugin_versions(find_plugin(plugin_type, self.bin_dirs))

    # ------------------------------------------------------------ internals

    def _invocation(self, command, container_id, netns, ifname, args) -> Invocation:
        merged = {"IgnoreUnknown": "1", **args} if args else {}
        return Invocation(command, container_id, netns, ifname, merged, self.bin_dirs)

    def _cached(self, container_id: str, ifname: str) -> Attachment | None:
        try:
            name = self.network.name
        except errors.HullError:  # no or broken config now: the cache still knows the pod
            name = self.network_name
        if name is not None:
            found = self.cache.load(name, container_id, ifname)
            if found:
                return found
        # The config may have changed since ADD: find the attachment by id.
        matches = [a for a in self.cache.list() if a.container_id == container_id and a.ifname == ifname]
        return matches[0] if matches else None

    def _network_for(self, cached: Attachment | None) -> NetworkConfigList | None:
        """The config DEL must use: the one ADD used if cached, else the current one."""
        if cached and cached.config:
            try:
                return conflist_from_dict(json.loads(cached.config), f"cache of {cached.container_id}",
                                          cached.config)
            except (ValueError, errors.HullError):
                log.warning("cached config of %s is unreadable; using the conf dir", cached.container_id)
        try:
            return self.network
        except errors.NotFound:
            return None  # no config and no cache: nothing we could have set up

    def _call(self, net, plugin: PluginConf, inv: Invocation, caps: dict, prev: dict | None, *,
              want_result: bool, version: str | None = None) -> dict | None:
        """One plugin call; renegotiates the version once if the plugin rejects ours."""
        path = find_plugin(plugin.type, self.bin_dirs)
        version = version or net.cni_version
        try:
            return self._call_at(net, plugin, path, inv, caps, prev, version, want_result)
        except errors.HullError as e:
            if getattr(e, "cni_code", None) != ERR_INCOMPATIBLE_VERSION:
                raise
            older = self._best_common(path, version)
            if older is None or older == version:
                raise
            log.info("plugin %s does not speak %s; using %s", plugin.type, version, older)
            return self._call_at(net, plugin, path, inv, caps, prev, older, want_result)

    def _call_at(self, net, plugin, path, inv, caps, prev, version, want_result):
        prev_conv = None
        if prev is not None and inv.command != "STATUS" and (inv.command == "ADD" or at_least(version, "0.4.0")):
            prev_conv = convert_result(prev, version)
        stdin = plugin_stdin(net, plugin, version, caps, prev_conv)
        out = self.exec.run(path, inv, json.dumps(stdin).encode(), self.timeout)
        if not want_result:
            return prev
        try:
            raw = json.loads(out)
        except ValueError as e:
            raise errors.Internal(f"cannot {inv.command} with CNI plugin {plugin.type}: "
                                  f"result is not JSON: {out[:200]!r}") from e
        try:
            return convert_result(raw, net.cni_version)
        except errors.HullError as e:
            raise errors.Internal(f"cannot {inv.command} with CNI plugin {plugin.type}: {e}") from e

    def _rollback(self, net, plugins, add_inv: Invocation, caps, result, cause: errors.HullError) -> None:
        inv = Invocation("DEL", add_inv.container_id, add_inv.netns, add_inv.ifname, add_inv.args, add_inv.path)
        failures = self._delete_chain(net, plugins, inv, caps, result)
        if failures:
            log.error("rollback after failed ADD of %s left errors: %s", add_inv.container_id,
                      "; ".join(map(str, failures)))
            cause.args = (f"{cause.args[0]} (rollback also failed: {failures[0]})",)

    def _delete_chain(self, net, plugins, inv, caps, prev) -> list[errors.HullError]:
        """DEL each plugin in reverse; keep going past failures and report them all."""
        failures = []
        for plugin in reversed(plugins):
            try:
                self._call(net, plugin, inv, caps, prev, want_result=False)
            except errors.HullError as e:
                failures.append(e)
        return failures

    def _plugin_versions(self, path: str) -> list[str]:
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        if key not in self._versions:
            out = self.exec.run(path, Invocation("VERSION", path=self.bin_dirs),
                                json.dumps({"cniVersion": max(SUPPORTED_VERSIONS, key=version_tuple)}).encode(),
                                self.timeout)
            try:
                data = json.loads(out)
                versions = [v for v in data.get("supportedVersions", []) if isinstance(v, str)]
            except (ValueError, AttributeError) as e:
                raise errors.Internal(f"cannot read VERSION of CNI plugin {path}: {out[:200]!r}") from e
            self._versions[key] = versions
        return self._versions[key]

    def _supports(self, path: str, version: str) -> bool:
        try:
            return version in self._plugin_versions(path)
        except errors.HullError:
            return False

    def _best_common(self, path: str, wanted: str) -> str | None:
        ours = [v for v in self._plugin_versions(path) if v in SUPPORTED_VERSIONS
                and version_tuple(v) <= version_tuple(wanted)]
        return max(ours, key=version_tuple) if ours else None
