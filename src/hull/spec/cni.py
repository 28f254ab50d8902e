"""CNI network configuration and result formats: pure data and validation.

Follows the CNI specification 1.1 (and converts the results of 0.1.0 to
1.0.0 plugins). Nothing here touches the system or imports the rest of hull
besides ``hull.errors``; the CNI plugins import this module on every pod
start, so it stays stdlib-only and light (no ``ipaddress``, no ``re``).
"""

from __future__ import annotations

from hull.errors import InvalidArgument


class _Record:
    """A small dataclass stand-in: ``dataclasses`` costs ~20 ms of imports
    (inspect, re, ast) that every plugin start would pay. Subclasses list
    ``_fields`` as (name, default) pairs; a list/dict default is copied."""

    _fields: tuple = ()

    def __init__(self, *args, **kwargs):
        names = [n for n, _ in self._fields]
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        given = dict(zip(names, args))
        for key in kwargs:
            if key not in names or key in given:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated argument {key!r}")
        given.update(kwargs)
        for name, default in self._fields:
            if name in given:
                value = given[name]
            elif default is _REQUIRED:
                raise TypeError(f"{type(self).__name__} missing required argument {name!r}")
            else:
                value = type(default)() if isinstance(default, (list, dict)) else default
            object.__setattr__(self, name, value)

    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n, _ in self._fields)
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n, _ in self._fields)

    def as_dict(self) -> dict:
        return {n: getattr(self, n) for n, _ in self._fields}


_REQUIRED = object()

SPEC_VERSION = "1.1.0"
#: every version whose config and results hull reads and writes
SUPPORTED_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

# Error codes the specification reserves (section "Error").
ERR_INCOMPATIBLE_VERSION = 1
ERR_UNSUPPORTED_FIELD = 2
ERR_UNKNOWN_CONTAINER = 3
ERR_INVALID_ENVIRONMENT = 4
ERR_IO_FAILURE = 5
ERR_DECODING_FAILURE = 6
ERR_INVALID_NETWORK_CONFIG = 7
ERR_TRY_AGAIN_LATER = 11
ERR_PLUGIN_NOT_AVAILABLE = 50
ERR_LIMITED_CONNECTIVITY = 51
#: first code free for plugin-specific errors
ERR_PLUGIN_SPECIFIC = 100

_NAME_FIRST = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_REST = _NAME_FIRST | set("_.-")


def version_tuple(version: str) -> tuple[int, int, int]:
    """``"0.3.1"`` -> ``(0, 3, 1)``; raises InvalidArgument on anything else."""
    parts = str(version).split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise InvalidArgument(f"cannot parse CNI version {version!r}: want MAJOR.MINOR.PATCH")
    return int(parts[0]), int(parts[1]), int(parts[2])


def at_least(version: str, minimum: str) -> bool:
    return version_tuple(version) >= version_tuple(minimum)


def valid_network_name(name: object) -> bool:
    """The spec's rule: ``^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$``."""
    return (isinstance(name, str) and bool(name) and name[0] in _NAME_FIRST
            and all(c in _NAME_REST for c in name))


class PluginConf(_Record):
    """One entry of a conflist's ``plugins``: its ``type`` and the ``raw`` object."""

    _fields = (("type", _REQUIRED), ("raw", {}))

    @property
    def capabilities(self) -> dict[str, bool]:
        return self.raw.get("capabilities") or {}


class NetworkConfigList(_Record):
    """A validated network configuration list (a ``.conf`` is wrapped into one).

    name, cni_version, plugins (tuple of PluginConf), disable_check, disable_gc,
    source (the file), raw (the decoded JSON), bytes (the file's bytes).
    """

    _fields = (("name", _REQUIRED), ("cni_version", _REQUIRED), ("plugins", _REQUIRED),
               ("disable_check", False), ("disable_gc", False), ("source", ""), ("raw", {}),
               ("bytes", b""))


def _fail(source: str, cause: str) -> InvalidArgument:
    return InvalidArgument(f"cannot load CNI network config {source}: {cause}")


def _pick_version(data: dict, source: str) -> str:
    """``cniVersions`` (1.1) wins: the highest one hull supports; else ``cniVersion``."""
    versions = data.get("cniVersions")
    if versions is not None:
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise _fail(source, "cniVersions must be a list of strings")
        known = [v for v in versions if v in SUPPORTED_VERSIONS]
        if known:
            return max(known, key=version_tuple)
        if "cniVersion" not in data:
            raise _fail(source, f"none of cniVersions {versions} is supported "
                                f"(supported: {', '.join(SUPPORTED_VERSIONS)})")
    version = data.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise _fail(source, "missing cniVersion")
    if version not in SUPPORTED_VERSIONS:
        raise _fail(source, f"unsupported cniVersion {version!r} "
                            f"(supported: {', '.join(SUPPORTED_VERSIONS)})")
    return version


def _plugin(entry: object, index: int, source: str) -> PluginConf:
    if not isinstance(entry, dict):
        raise _fail(source, f"plugins[{index}] is not an object")
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind or "/" in kind:
        raise _fail(source, f"plugins[{index}] has no valid \"type\"")
    caps = entry.get("capabilities", {})
    if not isinstance(caps, dict) or not all(isinstance(v, bool) for v in caps.values()):
        raise _fail(source, f"plugins[{index}] ({kind}): capabilities must map names to booleans")
    return PluginConf(type=kind, raw=entry)


def conflist_from_dict(data: object, source: str = "<config>", raw_bytes: bytes = b"") -> NetworkConfigList:
    """Validate a decoded ``.conflist``."""
    if not isinstance(data, dict):
        raise _fail(source, "top level is not a JSON object")
    name = data.get("name")
    if not valid_network_name(name):
        raise _fail(source, f"invalid or missing network name {name!r}")
    version = _pick_version(data, source)
    plugins = data.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise _fail(source, "\"plugins\" must be a non-empty list")
    for flag in ("disableCheck", "disableGC"):
        if not isinstance(data.get(flag, False), bool):
            raise _fail(source, f"{flag} must be a boolean")
    return NetworkConfigList(
        name=name, cni_version=version,
        plugins=tuple(_plugin(p, i, source) for i, p in enumerate(plugins)),
        disable_check=data.get("disableCheck", False), disable_gc=data.get("disableGC", False),
        source=source, raw=data, bytes=raw_bytes)


def conf_to_conflist(data: object, source: str = "<config>") -> dict:
    """Wrap a single-plugin ``.conf`` as libcni does: name and version move up."""
    if not isinstance(data, dict):
        raise _fail(source, "top level is not a JSON object")
    if "type" not in data:
        raise _fail(source, "a .conf needs a \"type\" (did you mean .conflist?)")
    wrapped = {"name": data.get("name"), "plugins": [data]}
    if "cniVersion" in data:
        wrapped["cniVersion"] = data["cniVersion"]
    return wrapped


def plugin_stdin(net: NetworkConfigList, plugin: PluginConf, version: str | None = None,
                 runtime_config: dict | None = None, prev_result: dict | None = None) -> dict:
    """The config a runtime writes on a plugin's stdin (spec: "Deriving execution configuration")."""
    conf = dict(plugin.raw)
    conf["name"] = net.name
    conf["cniVersion"] = version or net.cni_version
    conf.pop("runtimeConfig", None)
    wanted = {k: v for k, v in (runtime_config or {}).items() if plugin.capabilities.get(k)}
    if wanted:
        conf["runtimeConfig"] = wanted
    if prev_result is not None:
        conf["prevResult"] = prev_result
    return conf


# ---------------------------------------------------------------- results

class Interface(_Record):
    """name, mac, sandbox (netns path; empty on the host), mtu."""

    _fields = (("name", _REQUIRED), ("mac", ""), ("sandbox", ""), ("mtu", None))


class IPConfig(_Record):
    """address (CIDR, e.g. "10.88.0.5/16"), gateway, interface (index into Result.interfaces)."""

    _fields = (("address", _REQUIRED), ("gateway", None), ("interface", None))

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]

    @property
    def is_v6(self) -> bool:
        return ":" in self.address


class Route(_Record):
    """dst, gw, extra (the 1.1 fields: mtu, advmss, priority, table, scope)."""

    _fields = (("dst", _REQUIRED), ("gw", None), ("extra", {}))


class Result(_Record):
    """A CNI result: cni_version, interfaces, ips, routes, dns, and raw (as the plugin wrote it)."""

    _fields = (("cni_version", _REQUIRED), ("interfaces", []), ("ips", []), ("routes", []),
               ("dns", {}), ("raw", {}))


def _is_v6(cidr: str) -> bool:
    return ":" in cidr


def _upgrade_020(raw: dict) -> dict:
    """0.1.0/0.2.0 ``ip4``/``ip6`` blocks -> the 1.0.0 shape."""
    out = {"cniVersion": "1.0.0", "ips": [], "routes": [], "dns": raw.get("dns") or {}}
    for key in ("ip4", "ip6"):
        block = raw.get(key)
        if not block:
            continue
        entry = {"address": block["ip"]}
        if block.get("gateway"):
            entry["gateway"] = block["gateway"]
        out["ips"].append(entry)
        out["routes"].extend(block.get("routes") or [])
    return out


def upgrade_result(raw: dict) -> dict:
    """Any supported result version -> the 1.x shape (a new dict)."""
    if not isinstance(raw, dict):
        raise InvalidArgument("cannot parse CNI result: not a JSON object")
    version = raw.get("cniVersion", "0.1.0")
    if version not in SUPPORTED_VERSIONS:
        raise InvalidArgument(f"cannot parse CNI result: unsupported cniVersion {version!r}")
    if version_tuple(version) < (0, 3, 0):
        return _upgrade_020(raw)
    out = {k: v for k, v in raw.items() if k in ("interfaces", "ips", "routes", "dns")}
    out["cniVersion"] = version if version_tuple(version) >= (1, 0, 0) else "1.0.0"
    out["ips"] = [{k: v for k, v in ip.items() if k != "version"} for ip in raw.get("ips") or []]
    return out


def convert_result(raw: dict, to_version: str) -> dict:
    """Convert a result of any supported version into ``to_version``'s format."""
    if to_version not in SUPPORTED_VERSIONS:
        raise InvalidArgument(f"cannot convert CNI result to unsupported version {to_version!r}")
    modern = upgrade_result(raw)
    target = version_tuple(to_version)
    if target >= (1, 0, 0):
        modern["cniVersion"] = to_version
        return modern
    if target >= (0, 3, 0):
        ips = [dict(ip, version="6" if _is_v6(ip["address"]) else "4") for ip in modern.get("ips", [])]
        return dict(modern, cniVersion=to_version, ips=ips)
    return _downgrade_020(modern, to_version)


def _downgrade_020(modern: dict, to_version: str) -> dict:
    out: dict = {"cniVersion": to_version}
    for ip in modern.get("ips", []):
        key = "ip6" if _is_v6(ip["address"]) else "ip4"
        if key in out:
            continue  # 0.2.0 holds one address per family
        block = {"ip": ip["address"]}
        if ip.get("gateway"):
            block["gateway"] = ip["gateway"]
        routes = [r for r in modern.get("routes", []) if _is_v6(r["dst"]) == (key == "ip6")]
        if routes:
            block["routes"] = routes
        out[key] = block
    if modern.get("dns"):
        out["dns"] = modern["dns"]
    return out


def parse_result(raw: dict) -> Result:
    """Typed view of a result of any supported version; ``raw`` is kept as given."""
    modern = upgrade_result(raw)
    try:
        return Result(
            cni_version=raw.get("cniVersion", "0.1.0"),
            interfaces=[Interface(name=i["name"], mac=i.get("mac", ""), sandbox=i.get("sandbox", ""),
                                  mtu=i.get("mtu")) for i in modern.get("interfaces") or []],
            ips=[IPConfig(address=i["address"], gateway=i.get("gateway"), interface=i.get("interface"))
                 for i in modern.get("ips") or []],
            routes=[Route(dst=r["dst"], gw=r.get("gw"),
                          extra={k: v for k, v in r.items() if k not in ("dst", "gw")})
                    for r in modern.get("routes") or []],
            dns=modern.get("dns") or {},
            raw=raw)
    except (KeyError, TypeError, AttributeError) as e:
        raise InvalidArgument(f"cannot parse CNI result: missing or malformed field {e}") from e
