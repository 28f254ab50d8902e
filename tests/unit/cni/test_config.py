import json

import pytest

from hull.cni.config import load_network
from hull.errors import InvalidArgument, NotFound


def test_first_file_in_lexical_order_wins(tmp_path):
    (tmp_path / "20-b.conflist").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": "b", "plugins": [{"type": "x"}]}))
    (tmp_path / "10-a.conf").write_text(json.dumps({"cniVersion": "0.4.0", "name": "a", "type": "bridge"}))
    (tmp_path / "00-ignored.txt").write_text("not a config")
    net = load_network(str(tmp_path))
    assert net.name == "a" and net.plugins[0].type == "bridge" and net.cni_version == "0.4.0"
    assert load_network(str(tmp_path), "b").name == "b"


def test_malformed_file_names_the_file(tmp_path):
    (tmp_path / "10-broken.conflist").write_text("{ not json")
    with pytest.raises(InvalidArgument) as e:
        load_network(str(tmp_path))
    assert "10-broken.conflist" in str(e.value) and "invalid JSON" in str(e.value)


def test_empty_or_missing_dir_is_not_found(tmp_path):
    with pytest.raises(NotFound) as e:
        load_network(str(tmp_path / "nope"))
    assert "nope" in str(e.value)
    with pytest.raises(NotFound):
        load_network(str(tmp_path), "missing")
