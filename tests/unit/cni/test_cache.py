import json

from hull.cni.cache import Attachment, ResultCache


def test_cache_file_has_libcni_layout(tmp_path):
    cache = ResultCache(str(tmp_path))
    att = Attachment(network="net", container_id="abc", ifname="eth0", netns="/run/netns/p",
                     config=b'{"name": "net"}', args={"K8S_POD_NAME": "web"},
                     capabilities={"portMappings": [{"hostPort": 80}]}, result={"cniVersion": "1.0.0"})
    cache.save(att)
    path = tmp_path / "results" / "net-abc-eth0"
    data = json.loads(path.read_text())
    assert data["kind"] == "cniCacheV1"
    assert data["containerId"] == "abc" and data["ifName"] == "eth0" and data["networkName"] == "net"
    assert data["cniArgs"] == [["K8S_POD_NAME", "web"]]
    assert data["capabilityArgs"] == {"portMappings": [{"hostPort": 80}]}
    assert cache.load("net", "abc", "eth0") == att
    assert [a.container_id for a in cache.list("net")] == ["abc"]
    assert cache.list("other") == []


def test_remove_is_idempotent_and_torn_files_are_ignored(tmp_path):
    cache = ResultCache(str(tmp_path))
    cache.remove("net", "x", "eth0")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "net-torn-eth0").write_text("{")
    assert cache.load("net", "torn", "eth0") is None
    assert cache.list() == []
