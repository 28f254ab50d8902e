"""hull-host-local: IPAM from ranges kept on the local disk.

Config (the reference plugin's, so the two are interchangeable)::

    "ipam": {"type": "hull-host-local", "dataDir": "/var/lib/cni/networks",
             "ranges": [[{"subnet": "10.88.0.0/16", "rangeStart": "...", "rangeEnd": "...",
                          "gateway": "10.88.0.1"}], [{"subnet": "fd00:88::/64"}]],
             "routes": [{"dst": "0.0.0.0/0"}], "resolvConf": "/etc/resolv.conf"}

Addresses may be requested with ``CNI_ARGS`` ``IP=a,b``, ``args.cni.ips``
or the ``ips`` capability. ``hull-bridge`` calls ``ipam_*`` in-process when
its ipam type is this plugin; any other runtime execs it.
"""

from __future__ import annotations

from hull.cni import ipam
from hull.cni.ipaddr import AddressError, parse_ip

ABOUT = "hull-host-local: host-local IPAM (CNI 0.1.0-1.1.0)"


def _config(conf: dict) -> tuple[dict, list]:
    block = conf.get("ipam")
    if not isinstance(block, dict):
        raise ipam.ConfigError("missing \"ipam\" object")
    return block, ipam.parse_ranges(block)


def _requested(conf: dict, cni_args: dict, runtime_config: dict) -> list[str]:
    wanted = []
    if cni_args.get("IP"):
        wanted += cni_args["IP"].split(",")
    wanted += ((conf.get("args") or {}).get("cni") or {}).get("ips") or []
    wanted += runtime_config.get("ips") or []
    return [w.strip().split("/")[0] for w in wanted if w.strip()]


def _assign_requests(sets: list, requested: list[str]) -> dict[int, int]:
    by_set: dict[int, int] = {}
    for text in requested:
        try:
            value, version = parse_ip(text)
        except AddressError as e:
            raise ipam.ConfigError(f"requested IP: {e}") from e
        index = next((i for i, rs in enumerate(sets) if rs[0].version == version and rs.find(value)), None)
        if index is None or index in by_set:
            raise ipam.ConfigError(f"requested IP address {text} is not in any free range set "
                                   f"({', '.join(str(rs) for rs in sets)})")
        by_set[index] = value
    return by_set


def _parse_resolv_conf(path: str) -> dict:
    dns: dict = {}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return dns
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        if fields[0] == "nameserver":
            dns.setdefault("nameservers", []).append(fields[1])
        elif fields[0] == "domain":
            dns["domain"] = fields[1]
        elif fields[0] == "search":
            dns["search"] = fields[1:]
        elif fields[0] == "options":
            dns.setdefault("options", []).extend(fields[1:])
    return dns


def ipam_add(conf: dict, container_id: str, ifname: str, cni_args: dict, runtime_config: dict) -> dict:
    """Reserve one address per range set; the 1.x-shaped IPAM result."""
    block, sets = _config(conf)
    requests = _assign_requests(sets, _requested(conf, cni_args, runtime_config))
    ips = []
    with ipam.Store(block.get("dataDir"), conf.get("name", "")) as store:
        taken: list[str] = []
        existing = set(store.find(container_id, ifname))
        try:
            for index, rs in enumerate(sets):
                mine = [n for n in existing if _in_set(rs, n)]
                if mine and index not in requests:  # a retried ADD gets the same address
                    value = parse_ip(mine[0])[0]
                    r = rs.find(value)
                else:
                    r, value = ipam.allocate(store, index, rs, container_id, ifname, requests.get(index))
                    taken.append(r.ip(value))
                ips.append({"address": f"{r.ip(value)}/{r.subnet.prefix}", "gateway": r.ip(r.gateway)})
            store.sync()
        except BaseException:
            for ip in taken:
                store.release(ip)
            raise
    result = {"cniVersion": "1.1.0", "ips": ips, "routes": [dict(r) for r in block.get("routes") or []],
              "dns": dict(block.get("dns") or {})}
    if block.get("resolvConf") and not result["dns"]:
        result["dns"] = _parse_resolv_conf(block["resolvConf"])
    return result


def _in_set(rs, name: str) -> bool:
    try:
        value, version = parse_ip(name)
    except AddressError:
        return False
    return version == rs[0].version and rs.find(value) is not None


def ipam_del(conf: dict, container_id: str, ifname: str) -> None:
    block, _ = _config(conf)
    with ipam.Store(block.get("dataDir"), conf.get("name", "")) as store:
        for name in store.find(container_id, ifname):
            store.release(name)


def ipam_check(conf: dict, container_id: str, ifname: str) -> None:
    block, sets = _config(conf)
    with ipam.Store(block.get("dataDir"), conf.get("name", "")) as store:
        mine = store.find(container_id, ifname)
    for rs in sets:
        if not any(_in_set(rs, n) for n in mine):
            raise ipam.IPAMError(3, f"no address of range set {rs} is reserved for {container_id}/{ifname}")


def ipam_gc(conf: dict, valid: list) -> None:
    """Release every reservation whose (container id, ifname) is not in ``valid``."""
    block, _ = _config(conf)
    keep = {(a.get("containerID"), a.get("ifname")) for a in valid if isinstance(a, dict)}
    with ipam.Store(block.get("dataDir"), conf.get("name", "")) as store:
        for name in store.reservations():
            owner = store.owner(name)
            if owner and owner not in keep:
                store.release(name)


def main() -> int:
    """Run one CNI invocation and end the process (see skeleton.exit_now)."""
    from hull.cni import skeleton

    def wrap(fn):
        def call(args):
            try:
                return fn(args)
            except ipam.IPAMError as e:
                raise skeleton.PluginError(e.code, e.msg) from e
        return call

    return skeleton.exit_now(skeleton.run(
        add=wrap(lambda a: ipam_add(a.config, a.container_id, a.ifname, a.args, a.runtime_config)),
        delete=wrap(lambda a: ipam_del(a.config, a.container_id, a.ifname)),
        check=wrap(lambda a: ipam_check(a.config, a.container_id, a.ifname)),
        gc=wrap(lambda a: ipam_gc(a.config, a.config.get("cni.dev/valid-attachments") or [])),
        status=wrap(lambda a: _config(a.config) and None),
        about=ABOUT))
