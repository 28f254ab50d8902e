"""rtnetlink message encoding, checked without a kernel."""

import struct

from hull.sys import netlink


def test_attributes_are_padded_and_parse_back():
    raw = netlink.attr_str(netlink.IFLA_IFNAME, "eth0") + netlink.attr_u32(netlink.IFLA_MTU, 1400)
    assert len(raw) % 4 == 0
    attrs = netlink.parse_attrs(raw)
    assert attrs[netlink.IFLA_IFNAME] == b"eth0\0"
    assert struct.unpack("=I", attrs[netlink.IFLA_MTU])[0] == 1400


def test_nested_attributes_carry_the_nested_flag_and_parse():
    raw = netlink.nested(netlink.IFLA_LINKINFO, netlink.attr_str(netlink.IFLA_INFO_KIND, "veth"))
    length, kind = struct.unpack_from("=HH", raw)
    assert kind == netlink.IFLA_LINKINFO | netlink.NLA_F_NESTED and length == len(raw)
    inner = netlink.parse_attrs(netlink.parse_attrs(raw)[netlink.IFLA_LINKINFO])
    assert inner[netlink.IFLA_INFO_KIND] == b"veth\0"


def test_link_messages_parse_into_links():
    payload = (struct.pack("=BxHiII", 0, 1, 7, netlink.IFF_UP, 0)
               + netlink.attr_str(netlink.IFLA_IFNAME, "hull0")
               + netlink.attr(netlink.IFLA_ADDRESS, bytes.fromhex("02420a580001"))
               + netlink.attr_u32(netlink.IFLA_MTU, 1500)
               + netlink.nested(netlink.IFLA_LINKINFO, netlink.attr_str(netlink.IFLA_INFO_KIND, "bridge")))
    link = netlink._parse_link(payload)
    assert (link.index, link.name, link.kind, link.mtu, link.up) == (7, "hull0", "bridge", 1500, True)
    assert link.mac == "02:42:0a:58:00:01" and link.master is None


def test_truncated_attributes_stop_parsing():
    assert netlink.parse_attrs(b"\x02\x00\x01\x00") == {}
