"""The runtime against a fake executor: chain order, prevResult, capabilities,
rollback, version negotiation, the cache after a restart, GC and STATUS."""

import pytest

from hull.cni import CNI
from hull.errors import DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound

from .fakes import FakeExec, write_conflist

MAIN_RESULT = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "NS"}],
               "ips": [{"address": "10.88.0.2/16", "gateway": "10.88.0.1", "interface": 0}]}


def main_plugin(inv, conf):
    if inv.command == "ADD":
        return dict(MAIN_RESULT, cniVersion=conf["cniVersion"])
    return None


def passthrough(inv, conf):
    return conf.get("prevResult") if inv.command == "ADD" else None


def make(cni_dirs, plugins, answers, version="1.0.0", **extra):
    conf, bindir, cache = cni_dirs
    write_conflist(conf, plugins, version=version, **extra)
    fake = FakeExec(answers)
    return CNI(str(conf), [str(bindir)], str(cache), exec=fake), fake


def test_setup_runs_the_chain_with_prev_result_and_declared_capabilities(cni_dirs, netns_file):
    cni, fake = make(cni_dirs, [{"type": "main"}, {"type": "pm", "capabilities": {"portMappings": True}}],
                     {"main": main_plugin, "pm": passthrough})
    result = cni.setup("c1", netns_file, args={"K8S_POD_NAME": "web"},
                       capabilities={"portMappings": [{"hostPort": 8080}], "bandwidth": {}})
    assert fake.commands() == [("main", "ADD"), ("pm", "ADD")]
    main_conf, pm_conf = fake.calls[0][2], fake.calls[1][2]
    assert "prevResult" not in main_conf and "runtimeConfig" not in main_conf
    assert pm_conf["prevResult"]["ips"][0]["address"] == "10.88.0.2/16"
    assert pm_conf["runtimeConfig"] == {"portMappings": [{"hostPort": 8080}]}
    env = fake.calls[0][3].env()
    assert env["CNI_COMMAND"] == "ADD" and env["CNI_CONTAINERID"] == "c1" and env["CNI_NETNS"] == netns_file
    assert env["CNI_IFNAME"] == "eth0" and "K8S_POD_NAME=web" in env["CNI_ARGS"]
    assert result.ips[0].ip == "10.88.0.2"


def test_teardown_runs_del_in_reverse_with_cached_prev_result_even_after_restart(cni_dirs, netns_file):
    conf, bindir, cache = cni_dirs
    cni, _ = make(cni_dirs, [{"type": "main"}, {"type": "pm", "capabilities": {"portMappings": True}}],
                  {"main": main_plugin, "pm": passthrough})
    cni.setup("c1", netns_file, capabilities={"portMappings": [{"hostPort": 1}]})
    fake = FakeExec({"main": main_plugin, "pm": passthrough})
    restarted = CNI(str(conf), [str(bindir)], str(cache), exec=fake)
    restarted.teardown("c1", netns_file)
    assert fake.commands() == [("pm", "DEL"), ("main", "DEL")]
    assert fake.calls[0][2]["prevResult"]["ips"][0]["address"] == "10.88.0.2/16"
    assert fake.calls[0][2]["runtimeConfig"] == {"portMappings": [{"hostPort": 1}]}
    restarted.teardown("c1", netns_file)  # idempotent: runs DEL again, without prevResult
    assert "prevResult" not in fake.calls[-1][2]


def test_failed_add_is_rolled_back_and_names_the_plugin(cni_dirs, netns_file):
    cni, fake = make(cni_dirs, [{"type": "main"}, {"type": "pm"}, {"type": "lo"}], {
        "main": main_plugin,
        "pm": lambda inv, conf: {"code": 7, "msg": "bad mapping", "details": "port 0"} if inv.command == "ADD"
        else None,
        "lo": passthrough})
    with pytest.raises(InvalidArgument) as e:
        cni.setup("c1", netns_file)
    assert "plugin pm" in str(e.value) and "bad mapping" in str(e.value) and "port 0" in str(e.value)
    assert e.value.cni_code == 7
    assert fake.commands() == [("main", "ADD"), ("pm", "ADD"), ("pm", "DEL"), ("main", "DEL")]
    assert cni.cache.list() == []


def test_missing_plugin_binary_is_named(cni_dirs, netns_file):
    cni, _ = make(cni_dirs, [{"type": "main"}, {"type": "nonexistent-plugin"}], {"main": main_plugin})
    with pytest.raises(NotFound) as e:
        cni.setup("c1", netns_file)
    assert "nonexistent-plugin" in str(e.value)


def test_nonexistent_netns_is_refused_before_any_plugin_runs(cni_dirs):
    cni, fake = make(cni_dirs, [{"type": "main"}], {"main": main_plugin})
    with pytest.raises(NotFound) as e:
        cni.setup("c1", "/run/netns/hull-cni-test-does-not-exist")
    assert "hull-cni-test-does-not-exist" in str(e.value)
    assert fake.calls == []


def test_old_plugin_gets_its_version_and_its_result_is_converted(cni_dirs, netns_file):
    def old(inv, conf):
        if inv.command == "VERSION":
            return {"cniVersion": "0.4.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0"]}
        if conf["cniVersion"] not in ("0.3.0", "0.3.1", "0.4.0"):
            return {"code": 1, "msg": "incompatible CNI versions"}
        if inv.command == "ADD":
            return {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.88.0.9/16"}]}
        return None
    cni, fake = make(cni_dirs, [{"type": "old"}, {"type": "lo"}], {"old": old, "lo": passthrough},
                     version="1.0.0")
    result = cni.setup("c1", netns_file)
    assert [c[2].get("cniVersion") for c in fake.calls if c[0] == "old" and c[1] == "ADD"] == ["1.0.0", "0.4.0"]
    assert result.cni_version == "1.0.0" and result.ips[0].address == "10.88.0.9/16"
    assert "version" not in fake.calls[-1][2]["prevResult"]["ips"][0]


def test_check_uses_cached_result_and_needs_040(cni_dirs, netns_file):
    cni, fake = make(cni_dirs, [{"type": "main"}], {"main": main_plugin})
    with pytest.raises(NotFound):
        cni.check("c1", netns_file)
    cni.setup("c1", netns_file)
    cni.check("c1", netns_file)
    assert fake.calls[-1][1] == "CHECK" and fake.calls[-1][2]["prevResult"]["ips"]
    old, _ = make(cni_dirs, [{"type": "main"}], {"main": main_plugin}, version="0.3.1")
    with pytest.raises(FailedPrecondition):
        old.check("c1", netns_file)


def test_gc_deletes_stale_attachments_and_sends_valid_list_to_11_plugins(cni_dirs, netns_file):
    def modern(inv, conf):
        if inv.command == "VERSION":
            return {"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}
        return main_plugin(inv, conf)

    def legacy(inv, conf):
        if inv.command == "VERSION":
            return {"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}
        return passthrough(inv, conf)
    cni, fake = make(cni_dirs, [{"type": "main"}, {"type": "old"}], {"main": modern, "old": legacy},
                     version="1.1.0")
    cni.setup("keep", netns_file)
    cni.setup("stale", netns_file)
    fake.calls.clear()
    cni.gc([("keep", "eth0")])
    dels = [(c[0], c[3].container_id) for c in fake.calls if c[1] == "DEL"]
    assert dels == [("old", "stale"), ("main", "stale")]
    gcs = [c for c in fake.calls if c[1] == "GC"]
    assert [c[0] for c in gcs] == ["main"]
    assert gcs[0][2]["cni.dev/valid-attachments"] == [{"containerID": "keep", "ifname": "eth0"}]
    assert [a.container_id for a in cni.cache.list()] == ["keep"]


def test_status_reports_plugin_unavailable(cni_dirs):
    def sick(inv, conf):
        if inv.command == "VERSION":
            return {"cniVersion": "1.1.0", "supportedVersions": ["1.1.0"]}
        return {"code": 50, "msg": "no uplink"}
    cni, _ = make(cni_dirs, [{"type": "main"}], {"main": sick}, version="1.1.0")
    with pytest.raises(Exception) as e:
        cni.status()
    assert "no uplink" in str(e.value) and "main" in str(e.value)
    conf, bindir, cache = cni_dirs
    empty = CNI(str(conf / "none"), [str(bindir)], str(cache), exec=FakeExec({}))
    with pytest.raises(NotFound):
        empty.status()


def test_timeout_kills_the_plugin(tmp_path, netns_file):
    conf, bindir, cache = tmp_path / "conf", tmp_path / "bin", tmp_path / "cache"
    conf.mkdir()
    bindir.mkdir()
    hang = bindir / "hang"
    hang.write_text("#!/bin/sh\necho $$ > %s\nexec sleep 60\n" % (tmp_path / "pid"))
    hang.chmod(0o755)
    write_conflist(conf, [{"type": "hang"}])
    cni = CNI(str(conf), [str(bindir)], str(cache), timeout=0.5)
    with pytest.raises(DeadlineExceeded) as e:
        cni.setup("c1", netns_file)
    assert "hang" in str(e.value) and "killed pid" in str(e.value)
    import os
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_invalid_ids_are_refused(cni_dirs, netns_file):
    cni, _ = make(cni_dirs, [{"type": "main"}], {"main": main_plugin})
    with pytest.raises(InvalidArgument):
        cni.setup("bad/id", netns_file)
    with pytest.raises(InvalidArgument):
        cni.setup("c1", netns_file, ifname="a-very-long-interface-name")


def test_teardown_uses_the_cached_config_when_the_conf_dir_broke(cni_dirs, netns_file):
    conf, bindir, cache = cni_dirs
    cni, _ = make(cni_dirs, [{"type": "main"}], {"main": main_plugin})
    cni.setup("c1", netns_file)
    (conf / "10-test.conflist").write_text("{ broken")
    fake = FakeExec({"main": main_plugin})
    CNI(str(conf), [str(bindir)], str(cache), exec=fake).teardown("c1", netns_file)
    assert fake.commands() == [("main", "DEL")]
    assert fake.calls[0][2]["prevResult"]["ips"][0]["address"] == "10.88.0.2/16"


def test_second_setup_of_an_attached_container_is_refused_without_touching_it(cni_dirs, netns_file):
    from hull.errors import AlreadyExists
    cni, fake = make(cni_dirs, [{"type": "main"}], {"main": main_plugin})
    cni.setup("c1", netns_file)
    fake.calls.clear()
    with pytest.raises(AlreadyExists):
        cni.setup("c1", netns_file)
    assert fake.calls == []
    cni.setup("c1", netns_file, ifname="eth1")  # another interface is fine
