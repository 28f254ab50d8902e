"""hull-bridge: a Linux bridge with one veth pair per container.

Config (the reference bridge plugin's keys)::

    {"type": "hull-bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true,
     "ipMasq": false, "mtu": 1500, "hairpinMode": false, "promiscMode": false,
     "forceAddress": false, "ipam": {"type": "hull-host-local", ...}}

hull extension: ``"masqTable"`` names the nftables table for ``ipMasq``
(default ``hull-cni-masq``). ADD: ensure the bridge (create, MTU, up),
create the veth pair straight into the pod's netns (peer named
``CNI_IFNAME``), IPAM, addresses and routes in the pod, the gateway
address on the bridge, masquerade. Anything done is undone if a later step
fails. DEL is idempotent (missing netns or link is fine); CHECK compares
the live state with ``prevResult``.
"""

from __future__ import annotations

import os

from hull.cni import ipam_exec
from hull.cni.skeleton import PluginError
from hull.spec.cni import ERR_INVALID_NETWORK_CONFIG, ERR_UNKNOWN_CONTAINER, upgrade_result
from hull.sys.netlink import Netlink
from hull.sys.netns import NetNS, write_sysctl

ABOUT = "hull-bridge: Linux bridge + veth CNI plugin (CNI 0.1.0-1.1.0)"
ERR_BRIDGE = 101  # plugin-specific: the bridge or veth could not be set up


class BridgeConf:
    def __init__(self, conf: dict):
        self.raw = conf
        self.name = conf.get("name", "")
        self.bridge = conf.get("bridge") or "cni0"
        if len(self.bridge) > 15:
            raise PluginError(ERR_INVALID_NETWORK_CONFIG, f"bridge name {self.bridge!r} is longer than 15")
        self.is_default_gw = bool(conf.get("isDefaultGateway"))
        self.is_gw = bool(conf.get("isGateway")) or self.is_default_gw
        self.ip_masq = bool(conf.get("ipMasq"))
        self.mtu = int(conf.get("mtu") or 0) or None
        self.hairpin = bool(conf.get("hairpinMode"))
        self.promisc = bool(conf.get("promiscMode"))
        self.force_address = bool(conf.get("forceAddress"))
        self.enable_dad = bool(conf.get("enabledad"))
        self.masq_table = conf.get("masqTable") or "hull-cni-masq"  # masq.DEFAULT_TABLE
        ipam = conf.get("ipam")
        if not isinstance(ipam, dict) or not ipam.get("type"):
            raise PluginError(ERR_INVALID_NETWORK_CONFIG, "bridge needs an \"ipam\" object with a \"type\"")


def ensure_bridge(nl: Netlink, conf: BridgeConf):
    """The bridge, created if missing; up, with the configured MTU and promisc mode."""
    link = nl.link(conf.bridge)
    if link is None:
        try:
            nl.create_bridge(conf.bridge, conf.mtu)
        except FileExistsError:
            pass  # a concurrent ADD made it
        if not conf.enable_dad:
            # Without this the bridge's IPv6 link-local address is tentative for a
            # second after the first port comes up, and neighbour discovery through
            # the gateway stalls the first connections of the first pods.
            try:
                write_sysctl_path(f"/proc/sys/net/ipv6/conf/{conf.bridge}/accept_dad", "0")
            except OSError:
                pass  # IPv6 disabled on this host
        link = nl.link(conf.bridge)
    if link is None or link.kind != "bridge":
        raise PluginError(ERR_BRIDGE, f"{conf.bridge!r} already exists but is not a bridge")
    if (conf.mtu and link.mtu != conf.mtu) or not link.up or conf.promisc:
        nl.set_link(link.index, up=True, mtu=conf.mtu if link.mtu != conf.mtu else None,
                    promisc=True if conf.promisc else None)
    return link


def _host_veth_name() -> str:
    return "veth" + os.urandom(4).hex()


def _requested_mac(args) -> str | None:
    """The ``mac`` capability, or ``MAC`` in CNI_ARGS, as the reference bridge takes it."""
    mac = args.runtime_config.get("mac") or args.args.get("MAC")
    if mac and (len(mac.split(":")) != 6 or not all(len(p) == 2 for p in mac.split(":"))):
        raise PluginError(ERR_INVALID_NETWORK_CONFIG, f"invalid MAC address {mac!r}")
    return mac


def _setup_pod_side(ns: NetNS, ifname: str, ips: list[dict], routes: list[dict], conf: BridgeConf,
                    mac: str | None = None) -> str:
    """Inside the pod: MAC, link up, addresses, routes; returns the pod interface's MAC."""
    def inside():
        with Netlink() as pod:
            link = pod.link(ifname)
            if mac:
                pod.set_link(link.index, mac=mac)
                link = pod.link(ifname)
            if any(":" in ip["address"] for ip in ips) and not conf.enable_dad:
                write_sysctl_path(f"/proc/sys/net/ipv6/conf/{ifname}/accept_dad", "0")  # names may hold dots
            pod.set_link(link.index, up=True)
            for ip in ips:
                pod.add_address(link.index, ip["address"], nodad=not conf.enable_dad)
            for route in routes:
                pod.add_route(route["dst"], route.get("gw"), link.index, exist_ok=True,
                              metric=route.get("priority"))  # CNI 1.1 route field
            return link.mac
    return ns.run(inside)


def _gateway_routes(ips: list[dict], routes: list[dict]) -> list[dict]:
    """isDefaultGateway: a default route per family through the gateway."""
    added = []
    for ip in ips:
        gw = ip.get("gateway")
        default = "::/0" if ":" in ip["address"] else "0.0.0.0/0"
        if gw and not any(r["dst"] == default for r in routes + added):
            added.append({"dst": default, "gw": gw})
    return added


def _same_network(a: str, b: str) -> bool:
    from hull.cni.ipaddr import network_of, parse_ip
    (ip_a, prefix_a), (ip_b, prefix_b) = a.split("/"), b.split("/")
    value_a, version_a = parse_ip(ip_a)
    value_b, version_b = parse_ip(ip_b)
    return version_a == version_b and prefix_a == prefix_b and \
        network_of(value_a, version_a, int(prefix_a)) == network_of(value_b, version_b, int(prefix_b))


def _set_gateway(nl: Netlink, bridge_index: int, ips: list[dict], conf: BridgeConf) -> None:
    """The gateway address on the bridge. Another address of the same network there is an
    error, or replaced with ``forceAddress``, as the reference plugin does."""
    present = [a for a in nl.addresses(bridge_index) if not a.startswith("fe80:")]
    for ip in ips:
        gw = ip.get("gateway")
        if not gw:
            continue
        wanted = f"{gw}/{ip['address'].split('/')[1]}"
        for other in present:
            if other != wanted and _same_network(other, wanted):
                if not conf.force_address:
                    raise PluginError(ERR_BRIDGE, f"bridge {conf.bridge} already has address {other}, "
                                                  f"not the gateway {wanted} (set forceAddress to replace it)")
                nl.delete_address(bridge_index, other)
        nl.add_address(bridge_index, wanted, exist_ok=True, nodad=True)
        try:
            write_sysctl("net.ipv6.conf.all.forwarding" if ":" in gw else "net.ipv4.ip_forward", "1")
        except OSError:
            pass  # reported by traffic, not fatal to ADD (the reference ignores it too)


def cmd_add(args) -> dict:
    conf = BridgeConf(args.config)
    try:
        ns = NetNS(args.netns)
    except OSError as e:
        raise PluginError(ERR_UNKNOWN_CONTAINER, f"cannot open netns {args.netns}: {e.strerror}") from e
    with ns, Netlink() as nl:
        undo: list = []  # run in reverse while nl is still open if a later step fails
        try:
            return _add(args, conf, ns, nl, undo)
        except BaseException:
            for step in reversed(undo):
                try:
                    step()
                except Exception:
                    pass  # best effort: the original error matters
            raise


def _add(args, conf: BridgeConf, ns: NetNS, nl: Netlink, undo: list) -> dict:
    bridge = ensure_bridge(nl, conf)
    host_name = _host_veth_name()
    try:
        nl.create_veth(host_name, args.ifname, ns.fd, conf.mtu, master=bridge.index)
    except FileExistsError as e:
        raise PluginError(ERR_BRIDGE, f"cannot create veth into {args.netns}: interface "
                                      f"{args.ifname} or {host_name} already exists") from e
    host = nl.link(host_name)
    undo.append(lambda: nl.delete_link(host.index))
    nl.set_link(host.index, up=True)
    if conf.hairpin:
        write_sysctl_path(f"/sys/class/net/{host_name}/brport/hairpin_mode", "1")
    ipam_result = ipam_exec.add(args)
    undo.append(lambda: ipam_exec.delete(args))
    ips = [dict(ip, interface=2) for ip in ipam_result.get("ips", [])]
    if not ips:
        raise PluginError(ERR_BRIDGE, "IPAM plugin returned no IP configuration")
    routes = list(ipam_result.get("routes") or [])
    if conf.is_default_gw:
        routes += _gateway_routes(ips, routes)
    pod_mac = _setup_pod_side(ns, args.ifname, ips, routes, conf, _requested_mac(args))
    if conf.is_gw:
        _set_gateway(nl, bridge.index, ips, conf)
    if conf.ip_masq:
        from hull.cni import masq  # nft and its helpers load only when masquerading
        undo.append(lambda: masq.delete(conf.masq_table, args.container_id))
        masq.add(conf.masq_table, conf.name, args.container_id, ips)
    bridge = nl.link(index=bridge.index)
    return {"cniVersion": "1.1.0",
            "interfaces": [{"name": bridge.name, "mac": bridge.mac},
                           {"name": host_name, "mac": host.mac},
                           {"name": args.ifname, "mac": pod_mac, "sandbox": args.netns}],
            "ips": ips, "routes": routes, "dns": ipam_result.get("dns") or conf.raw.get("dns") or {}}


def write_sysctl_path(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def cmd_del(args) -> None:
    conf = BridgeConf(args.config)
    ipam_exec.delete(args)
    if args.netns:
        try:
            ns = NetNS(args.netns)
        except (FileNotFoundError, NotADirectoryError):
            ns = None  # the pod is gone, and its veth with it
        if ns is not None:
            with ns:
                def inside():
                    with Netlink() as pod:
                        link = pod.link(args.ifname)
                        if link is not None:
                            pod.delete_link(link.index)
                ns.run(inside)
    if conf.ip_masq:
        from hull.cni import masq
        masq.delete(conf.masq_table, args.container_id, masq.families_of(args.prev_result))


def cmd_check(args) -> None:
    conf = BridgeConf(args.config)
    if not args.prev_result:
        raise PluginError(ERR_INVALID_NETWORK_CONFIG, "CHECK needs prevResult")
    prev = upgrade_result(args.prev_result)
    from hull.cni.plugins.bridge_check import check
    check(conf, args, prev)
    ipam_exec.check(args)


def main() -> int:
    """Run one CNI invocation and end the process (see skeleton.exit_now)."""
    from hull.cni import skeleton
    return skeleton.exit_now(skeleton.run(add=cmd_add, delete=cmd_del, check=cmd_check, gc=ipam_exec.gc,
                                           status=ipam_exec.status, about=ABOUT))
