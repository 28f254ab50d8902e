"""IP addresses as integers, without ``ipaddress`` (its import costs a plugin
start several milliseconds). Formatting follows RFC 5952, as Go's
``net.IP.String`` does, so host-local file names match the reference plugin.
"""

from __future__ import annotations


class AddressError(ValueError):
    pass


def parse_ip(text: str) -> tuple[int, int]:
    """``"10.0.0.1"`` -> (value, 4); ``"fd00::1"`` -> (value, 6)."""
    if ":" in text:
        return _parse_v6(text), 6
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 and (p == "0" or not p.startswith("0"))
                                  for p in parts):
        raise AddressError(f"invalid IP address {text!r}")
    value = 0
    for p in parts:
        value = value << 8 | int(p)
    return value, 4


def _parse_v6(text: str) -> int:
    if text.count("::") > 1:
        raise AddressError(f"invalid IP address {text!r}")
    head, sep, tail = text.partition("::")
    groups_head = head.split(":") if head else []
    groups_tail = tail.split(":") if tail else []
    if groups_tail and "." in groups_tail[-1] or groups_head and "." in groups_head[-1]:
        raise AddressError(f"embedded IPv4 in {text!r} is not supported")
    missing = 8 - len(groups_head) - len(groups_tail)
    if (sep and missing < 1) or (not sep and missing != 0):
        raise AddressError(f"invalid IP address {text!r}")
    value = 0
    for group in groups_head + ["0"] * missing + groups_tail:
        if not 1 <= len(group) <= 4:
            raise AddressError(f"invalid IP address {text!r}")
        try:
            value = value << 16 | int(group, 16)
        except ValueError as e:
            raise AddressError(f"invalid IP address {text!r}") from e
    return value


def format_ip(value: int, version: int) -> str:
    if version == 4:
        return ".".join(str(value >> shift & 0xFF) for shift in (24, 16, 8, 0))
    groups = [value >> shift & 0xFFFF for shift in range(112, -16, -16)]
    best_start, best_len, start = -1, 0, None
    for i, g in enumerate(groups + [1]):
        if g == 0 and start is None:
            start = i
        elif g != 0 and start is not None:
            if i - start > best_len:
                best_start, best_len = start, i - start
            start = None
    if best_len < 2:
        return ":".join(f"{g:x}" for g in groups)
    left = ":".join(f"{g:x}" for g in groups[:best_start])
    right = ":".join(f"{g:x}" for g in groups[best_start + best_len:])
    return f"{left}::{right}"


def bits(version: int) -> int:
    return 32 if version == 4 else 128


class Subnet:
    """A CIDR network: ``Subnet("10.88.0.0/16")``; the host bits must be zero."""

    __slots__ = ("network", "prefix", "version")

    def __init__(self, cidr: str):
        ip, sep, prefix = cidr.partition("/")
        if not sep or not prefix.isdigit():
            raise AddressError(f"invalid subnet {cidr!r}: want address/prefix")
        try:
            value, version = parse_ip(ip)
        except AddressError as e:
            raise AddressError(f"invalid subnet {cidr!r}: {e}") from e
        self.prefix, self.version = int(prefix), version
        if self.prefix > bits(version):
            raise AddressError(f"invalid subnet {cidr!r}: prefix too long")
        self.network = value & self.mask
        if self.network != value:
            raise AddressError(f"invalid subnet {cidr!r}: host bits set (network is {self})")

    @property
    def mask(self) -> int:
        width = bits(self.version)
        return ((1 << width) - 1) ^ ((1 << (width - self.prefix)) - 1)

    @property
    def last(self) -> int:
        return self.network | ((1 << (bits(self.version) - self.prefix)) - 1)

    def __contains__(self, value: int) -> bool:
        return self.network <= value <= self.last

    def __str__(self) -> str:
        return f"{format_ip(self.network, self.version)}/{self.prefix}"


def network_of(value: int, version: int, prefix: int) -> str:
    """The CIDR of the network ``value/prefix`` lies in."""
    width = bits(version)
    mask = ((1 << width) - 1) ^ ((1 << (width - prefix)) - 1)
    return f"{format_ip(value & mask, version)}/{prefix}"
