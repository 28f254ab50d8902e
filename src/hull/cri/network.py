"""Pod networking through hull's CNI runtime (hull.cni.CNI)."""

from __future__ import annotations

import logging

from hull._generated import api_pb2 as api
from hull.cri.model import Sandbox

log = logging.getLogger("hull.cri.network")

PROTOCOLS = {api.TCP: "tcp", api.UDP: "udp", api.SCTP: "sctp"}


def open_cni(conf_dir: str, bin_dirs: list[str], cache_dir: str):
    from hull.cni import CNI

    return CNI(conf_dir, bin_dirs, cache_dir)


def cni_args(sb: Sandbox) -> dict:
    meta = sb.metadata
    return {"IgnoreUnknown": "1", "K8S_POD_NAMESPACE": meta.namespace,
            "K8S_POD_NAME": meta.name, "K8S_POD_INFRA_CONTAINER_ID": sb.id,
            "K8S_POD_UID": meta.uid}


def capabilities(config: api.PodSandboxConfig) -> dict:
    caps: dict = {}
    ports = [{"hostPort": p.host_port, "containerPort": p.container_port,
              "protocol": PROTOCOLS.get(p.protocol, "tcp"),
              **({"hostIP": p.host_ip} if p.host_ip else {})}
             for p in config.port_mappings if p.host_port > 0]
    if ports:
        caps["portMappings"] = ports
    dns = config.dns_config
    if dns.servers or dns.searches or dns.options:
        caps["dns"] = {"servers": list(dns.servers), "searches": list(dns.searches),
                       "options": list(dns.options)}
    return caps


class PodNetwork:
    def __init__(self, cni):
        self.cni = cni

    def setup(self, sb: Sandbox) -> list[str]:
        result = self.cni.setup(sb.id, sb.namespaces["net"], ifname="eth0", args=cni_args(sb),
                                capabilities=capabilities(sb.config))
        return [ip.ip if hasattr(ip, "ip") else str(ip).split("/")[0] for ip in result.ips]

    def teardown(self, sb: Sandbox) -> None:
        netns = sb.namespaces.get("net", "")
        self.cni.teardown(sb.id, netns, ifname="eth0", args=cni_args(sb),
                          capabilities=capabilities(sb.config))

    def status(self) -> str:
        """Empty when ready, else the reason."""
        try:
            self.cni.status()
        except Exception as e:  # noqa: BLE001 - any failure is a reason to report
            return str(e) or type(e).__name__
        return ""
