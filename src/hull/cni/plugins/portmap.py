"""hull-portmap: hostPort -> podIP:containerPort, chained after the main plugin.

Takes ``runtimeConfig.portMappings`` (capability ``portMappings``):
``[{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""}]``
and the pod addresses from ``prevResult``; passes ``prevResult`` on.

nftables (preferred; table ``hull-cni-portmap``, or the ``nftTable`` key)::

    map hostip_ports  hostIP . proto . port  ->  podIP . containerPort
    map any_ports             proto . port  ->  podIP . containerPort
    set hairpin       podIP . podIP          (a pod reaching itself via a hostPort)

    prerouting/output: fib daddr type local -> dnat through the maps
    postrouting: masquerade DNAT'ed traffic from 127.0.0.0/8 (with
                 route_localnet on the host interfaces, as the reference does) and hairpin

Every element's comment ends with ``id: <container>``; DEL removes those
and drops the table once empty. Where ``nft`` is missing (or with
``"backend": "iptables"``) the same rules are iptables rules in chains
``HULL-HOSTPORTS`` / ``HULL-HOSTPORTS-SNAT`` tagged by comment.
"""

from __future__ import annotations

from hull.cni.skeleton import PluginError
from hull.spec.cni import ERR_INVALID_NETWORK_CONFIG, upgrade_result

ABOUT = "hull-portmap: host port mapping CNI plugin, nftables or iptables (CNI 0.1.0-1.1.0)"
DEFAULT_TABLE = "hull-cni-portmap"
ERR_PORTMAP = 104  # plugin-specific: the rules could not be applied
ERR_MISMATCH = 102
_PROTOCOLS = ("tcp", "udp", "sctp")
_FAMILIES = {4: ("ip", "ipv4_addr", "127.0.0.0/8"), 6: ("ip6", "ipv6_addr", "::1")}


class Mapping:
    __slots__ = ("host_port", "container_port", "protocol", "host_ip")

    def __init__(self, raw: dict):
        try:
            self.host_port = int(raw["hostPort"])
            self.container_port = int(raw["containerPort"])
        except (KeyError, TypeError, ValueError) as e:
            raise PluginError(ERR_INVALID_NETWORK_CONFIG, f"invalid port mapping {raw}: need hostPort, "
                                                          "containerPort") from e
        self.protocol = str(raw.get("protocol") or "tcp").lower()
        self.host_ip = raw.get("hostIP") or ""
        if self.protocol not in _PROTOCOLS:
            raise PluginError(ERR_INVALID_NETWORK_CONFIG, f"invalid protocol {self.protocol!r} in {raw}")
        for port in (self.host_port, self.container_port):
            if not 0 < port < 65536:
                raise PluginError(ERR_INVALID_NETWORK_CONFIG, f"invalid port {port} in {raw}")

    def family(self) -> int | None:
        if self.host_ip in ("", "0.0.0.0", "::"):
            return None if not self.host_ip else (6 if ":" in self.host_ip else 4)
        return 6 if ":" in self.host_ip else 4

    def any_host(self) -> bool:
        return self.host_ip in ("", "0.0.0.0", "::")


def _mappings(args) -> list[Mapping]:
    raw = args.runtime_config.get("portMappings") or []
    if not isinstance(raw, list):
        raise PluginError(ERR_INVALID_NETWORK_CONFIG, "runtimeConfig.portMappings must be a list")
    return [Mapping(m) for m in raw]


def _pod_ips(prev: dict) -> dict[int, str]:
    """The first pod address of each family (an address on a sandbox interface)."""
    interfaces = prev.get("interfaces") or []
    found: dict[int, str] = {}
    for ip in prev.get("ips") or []:
        index = ip.get("interface")
        if index is not None and index < len(interfaces) and not interfaces[index].get("sandbox"):
            continue
        address = ip["address"].split("/")[0]
        found.setdefault(6 if ":" in address else 4, address)
    return found


def _use_nft(conf: dict) -> bool:
    from hull.cni import nft
    backend = conf.get("backend") or ""
    if backend == "iptables":
        return False
    if backend == "nftables" or nft.available():
        return True
    return False


def _table(conf: dict) -> str:
    return conf.get("nftTable") or DEFAULT_TABLE


def _tag(conf: dict, container_id: str) -> str:
    return f"name: {conf.get('name', '')} id: {container_id}"


def nft_script(table: str, version: int, pod_ip: str, mappings: list[Mapping], tag: str,
               snat: bool) -> tuple[str, str]:
    """(the table, maps and rules; this pod's elements). ``create element`` makes a
    hostPort already mapped for another pod an error instead of a silent overwrite."""
    from hull.cni.nft import quote
    family, addr_type, localhost = _FAMILIES[version]
    addr = family
    comment = quote(tag)
    lines = [
        f"add table {family} {table}",
        f"add map {family} {table} hostip_ports {{ type {addr_type} . inet_proto . inet_service : "
        f"{addr_type} . inet_service; }}",
        f"add map {family} {table} any_ports {{ type inet_proto . inet_service : {addr_type} . inet_service; }}",
        f"add set {family} {table} hairpin {{ type {addr_type} . {addr_type}; }}",
        f"add chain {family} {table} hostports",
        f"add chain {family} {table} prerouting {{ type nat hook prerouting priority dstnat; }}",
        f"add chain {family} {table} output {{ type nat hook output priority -100; }}",
        f"add chain {family} {table} postrouting {{ type nat hook postrouting priority srcnat; }}",
    ]
    for chain in ("hostports", "prerouting", "output", "postrouting"):
        lines.append(f"flush chain {family} {table} {chain}")
    lines += [
        f"add rule {family} {table} prerouting fib daddr type local jump hostports",
        f"add rule {family} {table} output fib daddr type local jump hostports",
        f"add rule {family} {table} hostports dnat {addr} to {addr} daddr . meta l4proto . th dport "
        f"map @hostip_ports",
        f"add rule {family} {table} hostports dnat {addr} to meta l4proto . th dport map @any_ports",
        f"add rule {family} {table} postrouting ct status dnat {addr} saddr . {addr} daddr @hairpin masquerade",
        f"add rule {family} {table} postrouting ct status dnat {addr} saddr {localhost} masquerade",
    ]
    elements = []
    for m in mappings:
        value = f"{pod_ip} . {m.container_port}"
        if m.any_host():
            elements.append(f"create element {family} {table} any_ports {{ {m.protocol} . {m.host_port} "
                         f"comment {comment} : {value} }}")
        else:
            elements.append(f"create element {family} {table} hostip_ports {{ {m.host_ip} . {m.protocol} . "
                         f"{m.host_port} comment {comment} : {value} }}")
    if snat:
        elements.append(f"add element {family} {table} hairpin {{ {pod_ip} . {pod_ip} comment {comment} }}")
    return "\n".join(lines) + "\n", "\n".join(elements) + "\n"


def _enable_route_localnet(prev: dict) -> None:
    """127.0.0.1 -> pod needs route_localnet on the host interface the pod is reached by."""
    for itf in prev.get("interfaces") or []:
        if itf.get("sandbox"):
            continue
        try:
            with open(f"/proc/sys/net/ipv4/conf/{itf['name']}/route_localnet", "w") as f:
                f.write("1")
        except OSError:
            pass  # not every listed host interface need exist (e.g. a foreign main plugin)


def _by_family(mappings: list[Mapping], pod_ips: dict[int, str]):
    for version, pod_ip in sorted(pod_ips.items()):
        chosen = [m for m in mappings if m.family() in (None, version)]
        if chosen:
            yield version, pod_ip, chosen


def cmd_add(args) -> dict:
    conf = args.config
    prev = args.prev_result
    if not prev:
        raise PluginError(ERR_INVALID_NETWORK_CONFIG, "portmap must be chained: prevResult is missing")
    mappings = _mappings(args)
    if not mappings:
        return prev
    modern = upgrade_result(prev)
    pod_ips = _pod_ips(modern)
    if not pod_ips:
        raise PluginError(ERR_INVALID_NETWORK_CONFIG, "prevResult has no pod address to map ports to")
    snat = conf.get("snat", True) is not False
    if _use_nft(conf):
        from hull.cni import nft
        table = _table(conf)
        for version, pod_ip, chosen in _by_family(mappings, pod_ips):
            base, elements = nft_script(table, version, pod_ip, chosen, _tag(conf, args.container_id), snat)
            try:
                with nft.TableLock(_FAMILIES[version][0], table):
                    try:  # the table is usually there already: a small transaction
                        nft.apply(elements)
                    except nft.NftError as fast:
                        try:
                            nft.apply(base + elements)
                        except nft.NftError as full:
                            raise nft.NftError(f"{full}\n(first attempt: {fast})") from full
            except nft.NftError as e:
                cmd_del(args)
                raise PluginError(ERR_PORTMAP, f"cannot map ports for {args.container_id}: {e}") from e
    else:
        from hull.cni.plugins import portmap_iptables
        portmap_iptables.add(args, list(_by_family(mappings, pod_ips)), _tag(conf, args.container_id), snat)
    if snat and 4 in pod_ips:
        _enable_route_localnet(modern)
    return prev


def cmd_del(args) -> None:
    conf = args.config
    tag = _tag(conf, args.container_id)
    if _use_nft(conf):
        from hull.cni import nft
        from hull.cni.masq import families_of
        for family in families_of(args.prev_result):
            nft.remove_elements_of(family, _table(conf),
                                   [("map", "hostip_ports"), ("map", "any_ports"), ("set", "hairpin")], tag)
    else:
        from hull.cni.masq import families_of
        from hull.cni.plugins import portmap_iptables
        portmap_iptables.delete(tag, [6 if f == "ip6" else 4 for f in families_of(args.prev_result)])


def cmd_check(args) -> None:
    conf = args.config
    mappings = _mappings(args)
    if not mappings or not args.prev_result:
        return
    pod_ips = _pod_ips(upgrade_result(args.prev_result))
    if not _use_nft(conf):
        from hull.cni.plugins import portmap_iptables
        return portmap_iptables.check(args, list(_by_family(mappings, pod_ips)), _tag(conf, args.container_id))
    from hull.cni import nft
    tag = _tag(conf, args.container_id)
    for version, pod_ip, chosen in _by_family(mappings, pod_ips):
        family = _FAMILIES[version][0]
        present = set()
        for name in ("any_ports", "hostip_ports"):
            present |= {e["key"] for e in nft.elements(family, _table(conf), name) if e["comment"] == tag}
        for m in chosen:
            key = f"{m.protocol} . {m.host_port}" if m.any_host() else f"{m.host_ip} . {m.protocol} . {m.host_port}"
            if key not in present:
                raise PluginError(ERR_MISMATCH, f"CHECK failed: no mapping {key} -> {pod_ip}:{m.container_port}")


def main() -> int:
    """Run one CNI invocation and end the process (see skeleton.exit_now)."""
    from hull.cni import skeleton
    return skeleton.exit_now(skeleton.run(add=cmd_add, delete=cmd_del, check=cmd_check, about=ABOUT))
