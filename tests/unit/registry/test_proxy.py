"""Proxy selection from HTTP(S)_PROXY and NO_PROXY."""

from __future__ import annotations

import pytest

from hull.errors import InvalidArgument
from hull.registry.proxy import Proxy, parse_proxy, proxy_for

ENV = {"HTTPS_PROXY": "http://proxy.corp:3128", "http_proxy": "proxy.corp:8080",
       "NO_PROXY": "internal.example, .svc.local, 10.0.0.0/8, exact.example:5000, 192.168.1.7"}


@pytest.mark.parametrize("scheme,netloc,expected", [
    ("https", "registry-1.docker.io", "proxy.corp:3128"),
    ("http", "insecure.example:5000", "proxy.corp:8080"),
    ("https", "internal.example", None),
    ("https", "sub.internal.example", None),          # a name covers its subdomains
    ("https", "svc.local", "proxy.corp:3128"),          # a leading dot: subdomains only
    ("https", "a.svc.local", None),
    ("https", "10.1.2.3:5000", None),                   # CIDR
    ("https", "11.1.2.3", "proxy.corp:3128"),
    ("https", "exact.example:5000", None),              # host:port
    ("https", "exact.example:6000", "proxy.corp:3128"),
    ("https", "192.168.1.7:443", None),
    ("https", "127.0.0.1:5000", None),                  # loopback: never
    ("https", "localhost:5000", None),
    ("https", "[::1]:5000", None),
])
def test_proxy_for(scheme, netloc, expected):
    proxy = proxy_for(scheme, netloc, ENV)
    assert (proxy.host if proxy else None) == expected


def test_no_proxy_star_and_no_env():
    assert proxy_for("https", "a.example", {**ENV, "no_proxy": "*", "NO_PROXY": ""}) is None
    assert proxy_for("https", "a.example", {}) is None


def test_parse_proxy():
    assert parse_proxy("http://u:p%40ss@proxy:3128") == Proxy("proxy:3128", "Basic dTpwQHNz")
    assert parse_proxy("proxy") == Proxy("proxy:80")
    with pytest.raises(InvalidArgument, match="only http:// proxies"):
        parse_proxy("socks5://proxy:1080")
