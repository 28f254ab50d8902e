import hull.cni
from hull.cni import default_conflist, ensure_default_config, load_network


def test_default_network_is_valid_and_uses_the_given_subnet(tmp_path):
    path = ensure_default_config(str(tmp_path), subnet="10.88.0.0/20")
    net = load_network(str(tmp_path))
    assert path.endswith("10-hull.conflist") and net.name == "hull"
    assert [p.type for p in net.plugins] == ["hull-bridge", "hull-portmap", "hull-loopback"]
    assert net.plugins[0].raw["ipam"]["ranges"] == [[{"subnet": "10.88.0.0/20"}]]
    assert ensure_default_config(str(tmp_path), subnet="10.99.0.0/16") is None  # never overwrites


def test_default_subnet_is_10_88():
    assert default_conflist()["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.88.0.0/16"}]]


def test_public_names_resolve():
    for name in hull.cni.__all__:
        assert getattr(hull.cni, name) is not None
