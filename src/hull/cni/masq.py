"""IP masquerade for the bridge's ``ipMasq``, with nftables.

Table ``<family> <table>`` holds a verdict map ``sources``: pod address ->
``jump net-<network>``, whose chain returns for the network's own subnets
and multicast and masquerades the rest. Each element's comment names the
network and the container, which is how DEL finds what to remove.
"""

from __future__ import annotations

from hull.cni import nft
from hull.cni.ipaddr import network_of, parse_ip

DEFAULT_TABLE = "hull-cni-masq"


def _chain(network: str) -> str:
    return "net-" + "".join(c if c.isalnum() or c in "_-" else "_" for c in network)[:24]


def add(table: str, network: str, container_id: str, ips: list[dict]) -> None:
    by_family: dict[str, list] = {}
    for ip in ips:
        address, prefix = ip["address"].split("/")
        value, version = parse_ip(address)
        by_family.setdefault("ip6" if version == 6 else "ip", []).append(
            (address, network_of(value, version, int(prefix))))
    for family, entries in by_family.items():
        chain = _chain(network)
        addr = "ip6" if family == "ip6" else "ip"
        multicast = "ff00::/8" if family == "ip6" else "224.0.0.0/4"
        comment = nft.quote(f"name: {network} id: {container_id}")
        script = [
            f"add table {family} {table}",
            f"add chain {family} {table} postrouting {{ type nat hook postrouting priority srcnat; }}",
            f"add map {family} {table} sources {{ type {'ipv6_addr' if family == 'ip6' else 'ipv4_addr'} : verdict; }}",
            f"add chain {family} {table} {chain}",
            f"flush chain {family} {table} {chain}",
            f"flush chain {family} {table} postrouting",
            f"add rule {family} {table} postrouting {addr} saddr vmap @sources",
        ]
        for subnet in sorted({s for _, s in entries}):
            script.append(f"add rule {family} {table} {chain} {addr} daddr {subnet} return")
        script.append(f"add rule {family} {table} {chain} {addr} daddr {multicast} return")
        script.append(f"add rule {family} {table} {chain} masquerade")
        elements = "".join(f"add element {family} {table} sources {{ {address} comment {comment} : "
                           f"jump {chain} }}\n" for address, _ in entries)
        with nft.TableLock(family, table):
            try:  # table and chains usually exist: only this pod's elements
                nft.apply(elements)
            except nft.NftError:
                nft.apply("\n".join(script) + "\n" + elements)


def families_of(prev_result: dict | None) -> tuple[str, ...]:
    """The nft families a result's addresses need; both when it is unknown."""
    if not prev_result:
        return ("ip", "ip6")
    ips = prev_result.get("ips") or [dict(address=b["ip"]) for b in
                                      (prev_result.get("ip4"), prev_result.get("ip6")) if b]
    return tuple(sorted({"ip6" if ":" in ip["address"] else "ip" for ip in ips})) or ("ip", "ip6")


def delete(table: str, container_id: str, families: tuple[str, ...] = ("ip", "ip6")) -> None:
    for family in families:
        nft.remove_elements_of(family, table, [("map", "sources")], f"id: {container_id}")

