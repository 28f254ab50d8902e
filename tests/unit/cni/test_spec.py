import pytest

from hull.errors import InvalidArgument
from hull.spec import cni


@pytest.mark.parametrize("data, cause", [
    ([], "not a JSON object"),
    ({"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}, "network name"),
    ({"name": "-bad", "cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}, "network name"),
    ({"name": "n", "plugins": [{"type": "bridge"}]}, "missing cniVersion"),
    ({"name": "n", "cniVersion": "9.9.9", "plugins": [{"type": "bridge"}]}, "unsupported cniVersion"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": []}, "non-empty list"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{}]}, "plugins[0] has no valid"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "../x"}]}, "plugins[0] has no valid"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "a", "capabilities": {"x": 1}}]}, "capabilities"),
    ({"name": "n", "cniVersion": "1.0.0", "disableCheck": "yes", "plugins": [{"type": "a"}]}, "disableCheck"),
    ({"name": "n", "cniVersions": ["7.0.0"], "plugins": [{"type": "a"}]}, "none of cniVersions"),
])
def test_invalid_conflists_are_rejected_with_the_file_and_cause(data, cause):
    with pytest.raises(InvalidArgument) as e:
        cni.conflist_from_dict(data, "/etc/cni/net.d/10-x.conflist")
    assert "10-x.conflist" in str(e.value)
    assert cause in str(e.value)


def test_valid_conflist_keeps_plugins_in_order_and_flags():
    net = cni.conflist_from_dict({"name": "hull.net_1", "cniVersion": "0.4.0", "disableCheck": True,
                                  "plugins": [{"type": "bridge"}, {"type": "portmap",
                                                                   "capabilities": {"portMappings": True}}]})
    assert [p.type for p in net.plugins] == ["bridge", "portmap"]
    assert net.plugins[1].capabilities == {"portMappings": True}
    assert net.disable_check is True and net.cni_version == "0.4.0"


def test_cni_versions_picks_the_highest_supported():
    net = cni.conflist_from_dict({"name": "n", "cniVersion": "0.4.0", "cniVersions": ["1.0.0", "1.1.0", "2.0.0"],
                                  "plugins": [{"type": "a"}]})
    assert net.cni_version == "1.1.0"


def test_conf_is_wrapped_as_a_list():
    wrapped = cni.conf_to_conflist({"cniVersion": "0.3.1", "name": "n", "type": "bridge", "bridge": "b"})
    net = cni.conflist_from_dict(wrapped)
    assert net.name == "n" and net.plugins[0].raw["bridge"] == "b" and net.cni_version == "0.3.1"


def test_plugin_stdin_injects_only_declared_capabilities_and_prev_result():
    net = cni.conflist_from_dict({"name": "n", "cniVersion": "1.0.0", "plugins": [
        {"type": "pm", "capabilities": {"portMappings": True, "bandwidth": False}}]})
    stdin = cni.plugin_stdin(net, net.plugins[0], None,
                             {"portMappings": [{"hostPort": 1}], "bandwidth": {"x": 1}, "mac": "m"},
                             {"cniVersion": "1.0.0"})
    assert stdin["runtimeConfig"] == {"portMappings": [{"hostPort": 1}]}
    assert stdin["name"] == "n" and stdin["cniVersion"] == "1.0.0"
    assert stdin["prevResult"] == {"cniVersion": "1.0.0"}


RESULT_100 = {"cniVersion": "1.0.0",
              "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": "/run/netns/x"}],
              "ips": [{"address": "10.88.0.5/16", "gateway": "10.88.0.1", "interface": 0},
                      {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 0}],
              "routes": [{"dst": "0.0.0.0/0", "gw": "10.88.0.1"}, {"dst": "::/0"}],
              "dns": {"nameservers": ["10.88.0.1"]}}


def test_convert_to_031_adds_ip_versions_and_back():
    old = cni.convert_result(RESULT_100, "0.3.1")
    assert old["cniVersion"] == "0.3.1"
    assert [ip["version"] for ip in old["ips"]] == ["4", "6"]
    assert cni.convert_result(old, "1.0.0") == RESULT_100


def test_convert_to_020_and_back_keeps_addresses_and_routes():
    old = cni.convert_result(RESULT_100, "0.2.0")
    assert old["ip4"] == {"ip": "10.88.0.5/16", "gateway": "10.88.0.1",
                          "routes": [{"dst": "0.0.0.0/0", "gw": "10.88.0.1"}]}
    assert old["ip6"]["ip"] == "fd00::5/64"
    new = cni.convert_result(old, "1.1.0")
    assert new["cniVersion"] == "1.1.0"
    assert [ip["address"] for ip in new["ips"]] == ["10.88.0.5/16", "fd00::5/64"]
    assert {"dst": "::/0"} in new["routes"]


def test_parse_result_gives_typed_view():
    result = cni.parse_result(cni.convert_result(RESULT_100, "0.4.0"))
    assert result.cni_version == "0.4.0"
    assert result.ips[0].ip == "10.88.0.5" and result.ips[0].gateway == "10.88.0.1"
    assert result.ips[1].is_v6
    assert result.interfaces[0].sandbox == "/run/netns/x"
    assert result.routes[0].gw == "10.88.0.1"


def test_parse_result_rejects_garbage():
    with pytest.raises(InvalidArgument):
        cni.parse_result({"cniVersion": "1.0.0", "ips": [{"gateway": "x"}]})
    with pytest.raises(InvalidArgument):
        cni.convert_result(RESULT_100, "5.0.0")


def test_records_compare_and_copy_defaults():
    a, b = cni.Result("1.0.0"), cni.Result("1.0.0")
    a.ips.append(cni.IPConfig("10.0.0.1/8"))
    assert b.ips == [] and a != b
    assert cni.Route("0.0.0.0/0") == cni.Route(dst="0.0.0.0/0")
    with pytest.raises(TypeError):
        cni.Interface()
