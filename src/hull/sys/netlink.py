"""rtnetlink over the stdlib's AF_NETLINK socket: links, addresses, routes.

Just what the CNI plugins need (veth pairs, bridges, addresses, routes,
MTU, up/down, promiscuous mode, master), without pyroute2, whose import
alone costs more than a whole plugin run. A ``Netlink`` object works on
the network namespace it was created in (see ``hull.sys.netns``).

Errors are ``OSError`` with the kernel's errno (and its extended-ack text
when it sends one).
"""

from __future__ import annotations

import os
import struct

# _socket, not socket: socket.py pulls in selectors and enum (~5 ms per plugin start).
import _socket as socket

NETLINK_ROUTE = 0
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SOL_NETLINK = 270

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLA_F_NESTED = 0x8000

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFA_F_NODAD = 0x02
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15

IFF_UP, IFF_PROMISC = 0x1, 0x100
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
RTN_UNICAST = 1

_HDR = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_ATTR = struct.Struct("=HH")


def _align(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, value: bytes) -> bytes:
    raw = _ATTR.pack(_ATTR.size + len(value), kind) + value
    return raw + b"\0" * (_align(len(raw)) - len(raw))


def attr_str(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def nested(kind: int, *children: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(children))


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    attrs = {}
    while offset + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            break
        attrs[kind & ~NLA_F_NESTED] = data[offset + _ATTR.size: offset + length]
        offset += _align(length)
    return attrs


def _family(ip: str) -> int:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def _split_cidr(cidr: str) -> tuple[str, int]:
    ip, _, prefix = cidr.partition("/")
    return ip, int(prefix) if prefix else (128 if ":" in ip else 32)


def format_mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


class Link:
    """What RTM_GETLINK tells about one interface."""

    __slots__ = ("index", "name", "flags", "mtu", "mac", "kind", "master", "peer_index")

    def __init__(self, index, name, flags, mtu, mac, kind, master, peer_index):
        self.index, self.name, self.flags, self.mtu = index, name, flags, mtu
        self.mac, self.kind, self.master, self.peer_index = mac, kind, master, peer_index

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)

    def __repr__(self):
        return f"Link({self.index}, {self.name!r}, kind={self.kind!r}, mac={self.mac}, mtu={self.mtu})"


def _parse_link(payload: bytes) -> Link:
    _, _, index, flags, _ = _IFINFO.unpack_from(payload)
    attrs = parse_attrs(payload, _IFINFO.size)
    kind = None
    if IFLA_LINKINFO in attrs:
        info = parse_attrs(attrs[IFLA_LINKINFO])
        if IFLA_INFO_KIND in info:
            kind = info[IFLA_INFO_KIND].rstrip(b"\0").decode()

    def u32(key):
        return struct.unpack("=I", attrs[key][:4])[0] if key in attrs else None

    return Link(index=index, name=attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(), flags=flags,
                mtu=u32(IFLA_MTU), mac=format_mac(attrs.get(IFLA_ADDRESS, b"")), kind=kind,
                master=u32(IFLA_MASTER), peer_index=u32(IFLA_LINK))


class Netlink:
    """One rtnetlink socket, bound to the network namespace it was created in."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):  # short acks carrying the kernel's reason
            try:
                self.sock.setsockopt(SOL_NETLINK, option, 1)
            except OSError:
                pass
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ transport

    def request(self, msg_type: int, flags: int, body: bytes) -> list[bytes]:
        """Send one request; return the payloads of the answers (a dump's parts or none)."""
        self.seq += 1
        seq = self.seq
        # NLM_F_DUMP shares bits with NLM_F_EXCL/REPLACE: it only means "dump" on a GET.
        dump = msg_type % 4 == 2 and flags & NLM_F_DUMP == NLM_F_DUMP
        self.sock.send(_HDR.pack(_HDR.size + len(body), msg_type, flags | NLM_F_REQUEST | NLM_F_ACK,
                                 seq, 0) + body)
        payloads = []
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind, msg_flags, msg_seq, _ = _HDR.unpack_from(data, offset)
                payload = data[offset + _HDR.size: offset + length]
                offset += _align(length)
                if msg_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return payloads
                if kind == NLMSG_ERROR:
                    code = struct.unpack_from("=i", payload)[0]
                    if code == 0:
                        if not dump:
                            return payloads
                        continue
                    raise OSError(-code, f"{os.strerror(-code)}{_ext_ack(payload)}")
                payloads.append(payload)

    # ------------------------------------------------------------ links

    def links(self) -> list[Link]:
        return [_parse_link(p) for p in self.request(RTM_GETLINK, NLM_F_DUMP, _IFINFO.pack(0, 0, 0, 0, 0))]

    def link(self, name: str | None = None, index: int = 0) -> Link | None:
        """The link called ``name`` (or with ``index``); None when there is none."""
        body = _IFINFO.pack(0, 0, index, 0, 0) + (attr_str(IFLA_IFNAME, name) if name else b"")
        try:
            found = self.request(RTM_GETLINK, 0, body)
        except OSError as e:
            if e.errno in (19, 2):  # ENODEV, ENOENT
                return None
            raise
        return _parse_link(found[0]) if found else None

    def create_bridge(self, name: str, mtu: int | None = None) -> None:
        attrs = attr_str(IFLA_IFNAME, name) + nested(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge"))
        if mtu:
            attrs += attr_u32(IFLA_MTU, mtu)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _IFINFO.pack(0, 0, 0, 0, 0) + attrs)

    def create_veth(self, name: str, peer_name: str, peer_netns_fd: int | None = None,
                    mtu: int | None = None, master: int | None = None) -> None:
        """A veth pair: ``name`` here, ``peer_name`` in the namespace of ``peer_netns_fd``."""
        peer = attr_str(IFLA_IFNAME, peer_name)
        if mtu:
            peer += attr_u32(IFLA_MTU, mtu)
        if peer_netns_fd is not None:
            peer += attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
        info = nested(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "veth"),
                      nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, _IFINFO.pack(0, 0, 0, 0, 0) + peer)))
        attrs = attr_str(IFLA_IFNAME, name) + info
        if mtu:
            attrs += attr_u32(IFLA_MTU, mtu)
        if master:
            attrs += attr_u32(IFLA_MASTER, master)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _IFINFO.pack(0, 0, 0, 0, 0) + attrs)

    def set_link(self, index: int, *, up: bool | None = None, promisc: bool | None = None,
                 mtu: int | None = None, master: int | None = None, name: str | None = None,
                 mac: str | None = None) -> None:
        flags = change = 0
        if up is not None:
            change |= IFF_UP
            flags |= IFF_UP if up else 0
        if promisc is not None:
            change |= IFF_PROMISC
            flags |= IFF_PROMISC if promisc else 0
        attrs = b""
        if mtu:
            attrs += attr_u32(IFLA_MTU, mtu)
        if master is not None:
            attrs += attr_u32(IFLA_MASTER, master)
        if name:
            attrs += attr_str(IFLA_IFNAME, name)
        if mac:
            attrs += attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", "")))
        self.request(RTM_NEWLINK, 0, _IFINFO.pack(0, 0, index, flags, change) + attrs)

    def delete_link(self, index: int) -> bool:
        """Delete a link; False when it was already gone."""
        try:
            self.request(RTM_DELLINK, 0, _IFINFO.pack(0, 0, index, 0, 0))
        except OSError as e:
            if e.errno in (19, 2):
                return False
            raise
        return True

    # ------------------------------------------------------------ addresses

    def addresses(self, index: int | None = None) -> list[str]:
        """Addresses as CIDR strings, of one link or all."""
        found = []
        for payload in self.request(RTM_GETADDR, NLM_F_DUMP, _IFADDR.pack(0, 0, 0, 0, 0)):
            family, prefix, _, _, ifindex = _IFADDR.unpack_from(payload)
            if index is not None and ifindex != index:
                continue
            attrs = parse_attrs(payload, _IFADDR.size)
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw:
                found.append(f"{socket.inet_ntop(family, raw)}/{prefix}")
        return found

    def add_address(self, index: int, cidr: str, *, exist_ok: bool = False, nodad: bool = False) -> None:
        ip, prefix = _split_cidr(cidr)
        family = _family(ip)
        packed = socket.inet_pton(family, ip)
        body = _IFADDR.pack(family, prefix, IFA_F_NODAD if nodad else 0, RT_SCOPE_UNIVERSE, index)
        body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
        try:
            self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)
        except OSError as e:
            if not (exist_ok and e.errno == 17):
                raise

    def delete_address(self, index: int, cidr: str) -> bool:
        ip, prefix = _split_cidr(cidr)
        family = _family(ip)
        packed = socket.inet_pton(family, ip)
        body = _IFADDR.pack(family, prefix, 0, 0, index) + attr(IFA_LOCAL, packed)
        try:
            self.request(RTM_DELADDR, 0, body)
        except OSError as e:
            if e.errno in (99, 19, 2):  # EADDRNOTAVAIL, ENODEV, ENOENT
                return False
            raise
        return True

    # ------------------------------------------------------------ routes

    def add_route(self, dst: str, gateway: str | None = None, oif: int | None = None, *,
                  exist_ok: bool = False, metric: int | None = None) -> None:
        """Add a route; ``dst`` as CIDR ("0.0.0.0/0" for default)."""
        ip, prefix = _split_cidr(dst)
        family = _family(ip)
        scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
        body = _RTMSG.pack(family, prefix, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST, 0)
        if prefix:
            body += attr(RTA_DST, socket.inet_pton(family, ip))
        if gateway:
            body += attr(RTA_GATEWAY, socket.inet_pton(family, gateway))
        if oif:
            body += attr_u32(RTA_OIF, oif)
        if metric is not None:
            body += attr_u32(RTA_PRIORITY, metric)
        try:
            self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)
        except OSError as e:
            if not (exist_ok and e.errno == 17):
                raise

    def routes(self, family: int = socket.AF_INET) -> list[dict]:
        """Main-table routes: dicts with dst (CIDR), gw, oif."""
        found = []
        for payload in self.request(RTM_GETROUTE, NLM_F_DUMP, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)):
            fam, dst_len, _, _, table, _, _, rtype, _ = _RTMSG.unpack_from(payload)
            attrs = parse_attrs(payload, _RTMSG.size)
            if RTA_TABLE in attrs:
                table = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
            if table != RT_TABLE_MAIN or rtype != RTN_UNICAST:
                continue
            zero = "::" if fam == socket.AF_INET6 else "0.0.0.0"
            dst = socket.inet_ntop(fam, attrs[RTA_DST]) if RTA_DST in attrs else zero
            gw = socket.inet_ntop(fam, attrs[RTA_GATEWAY]) if RTA_GATEWAY in attrs else None
            oif = struct.unpack("=I", attrs[RTA_OIF][:4])[0] if RTA_OIF in attrs else None
            found.append({"dst": f"{dst}/{dst_len}", "gw": gw, "oif": oif})
        return found


def _ext_ack(payload: bytes) -> str:
    """The kernel's extended-ack message after the echoed request header, if any."""
    try:
        attrs = parse_attrs(payload, 4 + _HDR.size)  # NETLINK_CAP_ACK: only the header is echoed
        msg = attrs.get(1)  # NLMSGERR_ATTR_MSG
        return f": {msg.rstrip(bytes(1)).decode(errors='replace')}" if msg else ""
    except struct.error:
        return ""
