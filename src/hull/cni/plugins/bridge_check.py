"""hull-bridge CHECK: the live state must match ``prevResult``.

The bridge exists; the pod interface exists inside the netns, is a veth
with the recorded MAC, whose peer is the recorded host veth enslaved to
the bridge; every recorded address and route is present in the pod.
"""

from __future__ import annotations

from hull.cni.skeleton import PluginError
from hull.spec.cni import ERR_UNKNOWN_CONTAINER
from hull.sys.netlink import Netlink
from hull.sys.netns import NetNS

ERR_MISMATCH = 102  # plugin-specific: the live state differs from prevResult


def _fail(msg: str, code: int = ERR_MISMATCH) -> PluginError:
    return PluginError(code, f"CHECK failed: {msg}")


def _recorded(prev: dict, ifname: str, netns: str):
    interfaces = prev.get("interfaces") or []
    pod_index = next((i for i, itf in enumerate(interfaces)
                      if itf.get("name") == ifname and itf.get("sandbox")), None)
    if pod_index is None:
        raise _fail(f"prevResult has no interface {ifname} in a sandbox")
    if interfaces[pod_index]["sandbox"] != netns:
        raise _fail(f"prevResult puts {ifname} in {interfaces[pod_index]['sandbox']}, not {netns}")
    host = next((itf for itf in interfaces if not itf.get("sandbox") and itf.get("name", "").startswith("veth")),
                None)
    return pod_index, interfaces[pod_index], host


def check(conf, args, prev: dict) -> None:
    pod_index, pod_itf, host_itf = _recorded(prev, args.ifname, args.netns)
    with Netlink() as nl:
        bridge = nl.link(conf.bridge)
        if bridge is None or bridge.kind != "bridge":
            raise _fail(f"bridge {conf.bridge} does not exist")
        try:
            ns = NetNS(args.netns)
        except OSError as e:
            raise _fail(f"netns {args.netns}: {e.strerror}", ERR_UNKNOWN_CONTAINER) from e
        with ns:
            def inside():
                with Netlink() as pod:
                    link = pod.link(args.ifname)
                    if link is None:
                        return None
                    return link, pod.addresses(link.index), pod.routes(2) + pod.routes(10)
            state = ns.run(inside)
        if state is None:
            raise _fail(f"interface {args.ifname} does not exist in {args.netns}", ERR_UNKNOWN_CONTAINER)
        link, addresses, routes = state
        if link.kind != "veth":
            raise _fail(f"{args.ifname} is a {link.kind}, not a veth")
        if pod_itf.get("mac") and link.mac != pod_itf["mac"].lower():
            raise _fail(f"{args.ifname} has MAC {link.mac}, prevResult says {pod_itf['mac']}")
        peer = nl.link(index=link.peer_index) if link.peer_index else None
        if peer is None or peer.master != bridge.index:
            raise _fail(f"the host end of {args.ifname} is missing or not on bridge {conf.bridge}")
        if host_itf and peer.name != host_itf["name"]:
            raise _fail(f"the host end of {args.ifname} is {peer.name}, prevResult says {host_itf['name']}")
    for ip in prev.get("ips") or []:
        if ip.get("interface") not in (None, pod_index):
            continue
        if ip["address"] not in addresses:
            raise _fail(f"address {ip['address']} is missing on {args.ifname}")
    present = {(r["dst"], r["gw"]) for r in routes}
    for route in prev.get("routes") or []:
        if (route["dst"], route.get("gw")) not in present and route.get("gw"):
            raise _fail(f"route to {route['dst']} via {route.get('gw')} is missing in the pod")
