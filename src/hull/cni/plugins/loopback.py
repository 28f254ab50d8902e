"""hull-loopback: bring ``lo`` up in the pod's netns (down again on DEL).

Alone it returns the loopback interface and its addresses; in a chain it
passes ``prevResult`` through unchanged, as the reference plugin does.
"""

from __future__ import annotations

from hull.cni.skeleton import PluginError
from hull.spec.cni import ERR_UNKNOWN_CONTAINER

ABOUT = "hull-loopback: loopback CNI plugin (CNI 0.1.0-1.1.0)"
ERR_LOOPBACK = 103  # plugin-specific: lo is missing or down


def _set_lo(netns: str, up: bool, missing_ok: bool):
    from hull.sys.netlink import Netlink
    from hull.sys.netns import NetNS
    try:
        ns = NetNS(netns)
    except OSError as e:
        if missing_ok:
            return None
        raise PluginError(ERR_UNKNOWN_CONTAINER, f"cannot open netns {netns}: {e.strerror}") from e

    def inside():
        with Netlink() as nl:
            lo = nl.link("lo")
            if up is not None:
                nl.set_link(lo.index, up=up)
                lo = nl.link("lo")
            return lo, nl.addresses(lo.index)
    with ns:
        return ns.run(inside)


def cmd_add(args) -> dict:
    lo, addresses = _set_lo(args.netns, True, False)
    if args.prev_result:
        return args.prev_result
    ips = [{"address": a, "interface": 0} for a in addresses if a.startswith("127.") or a == "::1/128"]
    return {"cniVersion": "1.1.0", "interfaces": [{"name": "lo", "mac": lo.mac, "sandbox": args.netns}],
            "ips": ips, "dns": {}}


def cmd_del(args) -> None:
    if args.netns:
        _set_lo(args.netns, False, True)


def cmd_check(args) -> None:
    lo, _ = _set_lo(args.netns, None, False)
    if not lo.up:
        raise PluginError(ERR_LOOPBACK, "CHECK failed: lo is down in " + args.netns)


def main() -> int:
    """Run one CNI invocation and end the process (see skeleton.exit_now)."""
    from hull.cni import skeleton
    return skeleton.exit_now(skeleton.run(add=cmd_add, delete=cmd_del, check=cmd_check, about=ABOUT))
