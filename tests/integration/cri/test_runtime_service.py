import pytest

from hull._generated import api_pb2 as api

pytestmark = pytest.mark.root


def test_version_names_hull_and_v1(hulld):
    v = hulld.runtime_stub.Version(api.VersionRequest(version="v1"))
    assert v.runtime_name == "hull" and v.runtime_api_version == "v1"
    assert v.runtime_version


def test_status_reports_runtime_and_network_ready_with_handlers(hulld):
    s = hulld.runtime_stub.Status(api.StatusRequest(verbose=True))
    conditions = {c.type: c for c in s.status.conditions}
    assert conditions["RuntimeReady"].status
    assert conditions["NetworkReady"].status, conditions["NetworkReady"].message
    names = [h.name for h in s.runtime_handlers]
    assert "" in names and "runc" in names
    assert s.features.supplemental_groups_policy
    assert "cgroupfs" in s.info["config"]


def test_network_not_ready_reason_when_conf_dir_empty(hulld, tmp_path):
    import os

    conf = os.path.join(hulld.conf_dir, "10-hull-cri-test.conflist")
    moved = str(tmp_path / "saved.conflist")
    os.rename(conf, moved)
    try:
        s = hulld.runtime_stub.Status(api.StatusRequest())
        network = next(c for c in s.status.conditions if c.type == "NetworkReady")
        assert not network.status
        assert network.reason == "NetworkPluginNotReady" and network.message
    finally:
        os.rename(moved, conf)


def test_runtime_config_reports_cgroupfs(hulld):
    r = hulld.runtime_stub.RuntimeConfig(api.RuntimeConfigRequest())
    assert r.linux.cgroup_driver == api.CGROUPFS


def test_update_runtime_config_accepts_pod_cidr(hulld):
    req = api.UpdateRuntimeConfigRequest()
    req.runtime_config.network_config.pod_cidr = "10.88.200.0/24"
    hulld.runtime_stub.UpdateRuntimeConfig(req)


def test_metric_descriptors_are_static_and_named(hulld):
    first = hulld.runtime_stub.ListMetricDescriptors(api.ListMetricDescriptorsRequest())
    second = hulld.runtime_stub.ListMetricDescriptors(api.ListMetricDescriptorsRequest())
    names = [d.name for d in first.descriptors]
    assert names == [d.name for d in second.descriptors]
    assert "container_cpu_usage_seconds_total" in names
    assert all(d.help and d.label_keys for d in first.descriptors)
