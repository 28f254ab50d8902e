import ipaddress

import pytest

from hull.cni.ipaddr import AddressError, Subnet, format_ip, network_of, parse_ip


@pytest.mark.parametrize("text", ["::", "::1", "fd00::1", "2001:db8::8:800:200c:417a", "1:0:0:1:0:0:0:1",
                                  "fe80::1:0:0:1", "1::", "1:2:3:4:5:6:7:8", "0:0:1::", "10.0.0.1", "0.0.0.0"])
def test_round_trip_matches_ipaddress_canonical_form(text):
    value, version = parse_ip(text)
    expected = ipaddress.ip_address(text)
    assert value == int(expected) and version == expected.version
    assert format_ip(value, version) == str(expected)


@pytest.mark.parametrize("text", ["1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1", ""])
def test_bad_addresses(text):
    with pytest.raises(AddressError):
        parse_ip(text)


def test_subnet_bounds():
    net = Subnet("10.88.0.0/16")
    assert format_ip(net.last, 4) == "10.88.255.255"
    assert parse_ip("10.88.3.4")[0] in net and parse_ip("10.89.0.0")[0] not in net
    assert network_of(parse_ip("10.88.7.9")[0], 4, 16) == "10.88.0.0/16"
    assert str(Subnet("fd00:1::/64")) == "fd00:1::/64"
