"""Delegating IPAM, as libcni's ipam exec does for the reference plugins.

The IPAM plugin named by ``ipam.type`` is found in ``CNI_PATH`` and run
with our own environment and stdin. When it is hull's host-local, it runs
in-process instead: same code and same on-disk store, one process start
less per pod (the biggest share of a Python plugin's cost).
"""

from __future__ import annotations

import os

from hull.cni import fastjson as json
from hull.cni.skeleton import PluginError
from hull.spec.cni import ERR_INCOMPATIBLE_VERSION, ERR_INVALID_NETWORK_CONFIG, upgrade_result

IN_PROCESS = ("hull-host-local",)


def _type(args) -> str:
    return (args.config.get("ipam") or {}).get("type", "")


def _host_local():
    from hull.cni.plugins import host_local
    return host_local


def _in_process(fn, *a):
    from hull.cni.ipam import IPAMError
    try:
        return fn(*a)
    except IPAMError as e:
        raise PluginError(e.code, e.msg) from e


def _find(kind: str, path: tuple) -> str:
    for directory in path:
        candidate = os.path.join(directory, kind)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise PluginError(ERR_INVALID_NETWORK_CONFIG, f"cannot find IPAM plugin {kind!r} in CNI_PATH "
                                                  f"{':'.join(path) or '(empty)'}")


def _exec(args, command: str, stdin: bytes | None = None) -> bytes:
    kind = _type(args)
    plugin = _find(kind, args.path)
    from hull.cni import procexec  # only for an IPAM plugin that is not in-process
    env = dict(os.environ, CNI_COMMAND=command)
    stdin = args.stdin if stdin is None else stdin
    rc, out, err = procexec.run([plugin], stdin, env)
    if rc == 0:
        return out
    try:
        data = json.loads(out)
        code, msg = int(data.get("code", 999)), str(data.get("msg", ""))
        details = str(data.get("details", ""))
    except (ValueError, AttributeError, TypeError):
        code, msg, details = 999, (err or out).decode(errors="replace").strip(), ""
    if code == ERR_INCOMPATIBLE_VERSION and args.config.get("cniVersion") == "1.1.0" and command in ("ADD", "DEL", "CHECK"):
        older = dict(args.config, cniVersion="1.0.0")  # an IPAM plugin from before CNI 1.1
        return _exec(args, command, json.dumps(older).encode())
    raise PluginError(code, f"IPAM plugin {kind}: {msg}", details)


def add(args) -> dict:
    if _type(args) in IN_PROCESS:
        return _in_process(_host_local().ipam_add, args.config, args.container_id, args.ifname,
                           args.args, args.runtime_config)
    out = _exec(args, "ADD")
    try:
        return upgrade_result(json.loads(out))
    except Exception as e:
        raise PluginError(999, f"IPAM plugin {_type(args)} returned an unreadable result: {out[:200]!r}") from e


def delete(args) -> None:
    if _type(args) in IN_PROCESS:
        return _in_process(_host_local().ipam_del, args.config, args.container_id, args.ifname)
    _exec(args, "DEL")


def check(args) -> None:
    if _type(args) in IN_PROCESS:
        return _in_process(_host_local().ipam_check, args.config, args.container_id, args.ifname)
    _exec(args, "CHECK")


def gc(args) -> None:
    if _type(args) in IN_PROCESS:
        return _in_process(_host_local().ipam_gc, args.config,
                           args.config.get("cni.dev/valid-attachments") or [])
    _exec_if_supported(args, "GC")


def status(args) -> None:
    if _type(args) in IN_PROCESS:
        return None
    _exec_if_supported(args, "STATUS")


def _exec_if_supported(args, command: str) -> None:
    """GC and STATUS are CNI 1.1 verbs: skip an IPAM plugin that does not speak 1.1.0
    (it has nothing to collect and no status to give), as libcni skips such plugins."""
    from hull.cni import procexec
    plugin = _find(_type(args), args.path)
    rc, out, _ = procexec.run([plugin], b'{"cniVersion":"1.1.0"}', dict(os.environ, CNI_COMMAND="VERSION"))
    try:
        supported = json.loads(out).get("supportedVersions", []) if rc == 0 else []
    except (ValueError, AttributeError):
        supported = []
    if "1.1.0" in supported:
        _exec(args, command)
