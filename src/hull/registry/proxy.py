"""HTTP proxies from the environment, as Go's httpproxy (and so containerd) reads them.

``HTTPS_PROXY``/``https_proxy`` for https URLs, ``HTTP_PROXY``/``http_proxy``
for http ones, ``NO_PROXY``/``no_proxy`` for exceptions: ``*``, host names
(``example.com`` also covers its subdomains, ``.example.com`` only them),
``host:port``, IP addresses and CIDR ranges. Loopback is never proxied.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import unquote, urlsplit

from hull.errors import InvalidArgument


@dataclass(frozen=True)
class Proxy:
    host: str          # host:port of the proxy
    authorization: str | None = None   # Proxy-Authorization value from user:password@

    def __str__(self) -> str:
        return f"http://{self.host}"


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.upper()) or environ.get(name.lower()) or ""


def parse_proxy(url: str) -> Proxy:
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", ""):
        raise InvalidArgument(f"unsupported proxy {url!r}: only http:// proxies are supported")
    if not parts.hostname:
        raise InvalidArgument(f"invalid proxy URL {url!r}")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    host += f":{parts.port or 80}"
    authorization = None
    if parts.username is not None:
        import base64
        raw = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(raw).decode()
    return Proxy(host, authorization)


def _split_host(netloc: str) -> tuple[str, str]:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, rest.lstrip(":")
    host, _, port = netloc.partition(":")
    return host, port


def _bypassed(host: str, port: str, no_proxy: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None and "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, entry_port = _split_host(entry)
        if entry_port and entry_port != port:
            continue
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(scheme: str, netloc: str, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy to reach ``scheme://netloc`` through, or None to go direct."""
    environ = os.environ if environ is None else environ
    value = _env(environ, f"{scheme}_proxy")
    if not value:
        return None
    host, port = _split_host(netloc.lower())
    port = port or ("443" if scheme == "https" else "80")
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    if _bypassed(host, port, _env(environ, "no_proxy")):
        return None
    return parse_proxy(value)
