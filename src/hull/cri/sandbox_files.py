"""Files a pod's containers share: resolv.conf, hostname, hosts."""

from __future__ import annotations

import os

from hull._generated import api_pb2 as api


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def resolv_conf(dns: api.DNSConfig) -> str | None:
    """resolv.conf text for the pod's DNS config; None means use the host's."""
    if not (dns.servers or dns.searches or dns.options):
        return None
    lines = [f"nameserver {s}" for s in dns.servers]
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"


def write_all(directory: str, config: api.PodSandboxConfig, hostname: str) -> dict[str, str]:
    """Write the pod's files under ``directory``; return name -> host path."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    resolv = resolv_conf(config.dns_config)
    if resolv is None:
        try:
            with open("/etc/resolv.conf") as f:
                resolv = f.read()
        except OSError:
            resolv = ""
    paths["resolv.conf"] = os.path.join(directory, "resolv.conf")
    _write(paths["resolv.conf"], resolv)
    paths["hostname"] = os.path.join(directory, "hostname")
    _write(paths["hostname"], hostname + "\n")
    paths["hosts"] = os.path.join(directory, "hosts")
    _write(paths["hosts"], f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                           f"127.0.1.1\t{hostname}\n")
    return paths
