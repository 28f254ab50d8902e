"""hull-portmap's iptables backend, for hosts without ``nft``.

Chains in the nat table: ``HULL-HOSTPORTS`` (jumped to from PREROUTING and
OUTPUT for local destinations) holds one DNAT rule per mapping;
``HULL-HOSTPORTS-SNAT`` (from POSTROUTING) masquerades localhost and
hairpin traffic. Every rule carries the comment ``name: <net> id: <cid>``;
DEL deletes the rules with that comment.
"""

from __future__ import annotations

from hull.cni import procexec
from hull.cni.skeleton import PluginError

DNAT_CHAIN = "HULL-HOSTPORTS"
SNAT_CHAIN = "HULL-HOSTPORTS-SNAT"
ERR_PORTMAP = 104


def _tool(version: int) -> str:
    return "ip6tables" if version == 6 else "iptables"


def _run(version: int, *argv: str, ok_codes=(0,)) -> tuple[int, str]:
    rc, out, err = procexec.run([_tool(version), "-w", "-t", "nat", *argv])
    if rc not in ok_codes:
        raise PluginError(ERR_PORTMAP, f"{_tool(version)} {' '.join(argv)} failed: "
                                       f"{err.decode(errors='replace').strip()}")
    return rc, out.decode()


def _ensure_chains(version: int) -> None:
    for chain in (DNAT_CHAIN, SNAT_CHAIN):
        _run(version, "-N", chain, ok_codes=(0, 1))
    jumps = [("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT_CHAIN]),
             ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", DNAT_CHAIN]),
             ("POSTROUTING", ["-j", SNAT_CHAIN])]
    for parent, rule in jumps:
        if _run(version, "-C", parent, *rule, ok_codes=(0, 1, 2))[0] != 0:
            _run(version, "-A", parent, *rule)


def add(args, plan, tag: str, snat: bool) -> None:
    for version, pod_ip, mappings in plan:
        _ensure_chains(version)
        localhost = "::1" if version == 6 else "127.0.0.0/8"
        target = f"[{pod_ip}]" if version == 6 else pod_ip
        for m in mappings:
            match = ["-p", m.protocol, "--dport", str(m.host_port)]
            if not m.any_host():
                match = ["-d", m.host_ip] + match
            _run(version, "-A", DNAT_CHAIN, *match, "-m", "comment", "--comment", tag,
                 "-j", "DNAT", "--to-destination", f"{target}:{m.container_port}")
            if snat:
                for source in (localhost, pod_ip):
                    _run(version, "-A", SNAT_CHAIN, "-s", source, "-d", pod_ip, "-p", m.protocol,
                         "--dport", str(m.container_port), "-m", "comment", "--comment", tag, "-j", "MASQUERADE")


def _rules_of(version: int, chain: str, tag: str) -> list[list[str]]:
    import shlex
    rc, out = _run(version, "-S", chain, ok_codes=(0, 1))
    if rc != 0:
        return []
    found = []
    for line in out.splitlines():
        words = shlex.split(line)
        if words[:1] == ["-A"] and tag in words:
            found.append(words[1:])
    return found


def delete(tag: str, versions=(4, 6)) -> None:
    for version in versions:
        for chain in (DNAT_CHAIN, SNAT_CHAIN):
            for rule in _rules_of(version, chain, tag):
                _run(version, "-D", *rule, ok_codes=(0, 1))


def check(args, plan, tag: str) -> None:
    for version, pod_ip, mappings in plan:
        rules = _rules_of(version, DNAT_CHAIN, tag)
        for m in mappings:
            if not any(str(m.host_port) in r and any(pod_ip in w for w in r) for r in rules):
                raise PluginError(102, f"CHECK failed: no DNAT rule for port {m.host_port} -> {pod_ip}")
