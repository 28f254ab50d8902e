import io
import json

from hull.cni import skeleton
from hull.errors import NotFound

ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/opt/cni/bin"}
CONF = {"cniVersion": "0.3.1", "name": "n", "type": "t"}


def run(env, conf, **callbacks):
    out = io.StringIO()
    callbacks.setdefault("add", lambda a: {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/8"}]})
    callbacks.setdefault("delete", lambda a: None)
    status = skeleton.run(env=env, stdin=json.dumps(conf).encode() if conf is not None else b"", stdout=out,
                          **callbacks)
    return status, json.loads(out.getvalue()) if out.getvalue() else None


def test_add_result_is_converted_to_the_requested_version():
    status, out = run(ENV, CONF)
    assert status == 0
    assert out == {"cniVersion": "0.3.1", "ips": [{"address": "10.0.0.2/8", "version": "4"}]}


def test_version_answers_supported_versions():
    status, out = run({"CNI_COMMAND": "VERSION"}, {"cniVersion": "1.0.0"})
    assert status == 0 and "1.1.0" in out["supportedVersions"] and "0.3.1" in out["supportedVersions"]


def test_missing_env_is_code_4():
    status, out = run({k: v for k, v in ENV.items() if k != "CNI_CONTAINERID"}, CONF)
    assert status == 1 and out["code"] == 4 and "CNI_CONTAINERID" in out["msg"]


def test_bad_json_is_code_6_and_unknown_version_code_1():
    out = io.StringIO()
    assert skeleton.run(add=None, delete=None, env=ENV, stdin=b"{", stdout=out) == 1
    assert json.loads(out.getvalue())["code"] == 6
    status, out = run(ENV, dict(CONF, cniVersion="3.0.0"))
    assert out["code"] == 1 and "3.0.0" in out["details"]


def test_errors_become_json_with_codes():
    def boom(a):
        raise skeleton.PluginError(101, "bridge broke", "details here")
    status, out = run(ENV, CONF, add=boom)
    assert status == 1 and out == {"cniVersion": "0.3.1", "code": 101, "msg": "bridge broke",
                                   "details": "details here"}

    def missing(a):
        raise NotFound("cannot find thing")
    assert run(ENV, CONF, add=missing)[1]["code"] == 3

    def crash(a):
        raise KeyError("x")
    assert run(ENV, CONF, add=crash)[1]["code"] == skeleton.ERR_INTERNAL


def test_del_allows_empty_netns_and_check_needs_040():
    status, out = run(dict(ENV, CNI_COMMAND="DEL", CNI_NETNS=""), CONF)
    assert status == 0 and out is None
    status, out = run(dict(ENV, CNI_COMMAND="CHECK"), CONF, check=lambda a: None)
    assert status == 1 and out["code"] == 1
    status, out = run(dict(ENV, CNI_COMMAND="CHECK"), dict(CONF, cniVersion="1.0.0"), check=lambda a: None)
    assert status == 0


def test_gc_and_status_without_callbacks_succeed_on_11():
    conf = dict(CONF, cniVersion="1.1.0")
    assert run({"CNI_COMMAND": "GC", "CNI_PATH": ""}, conf)[0] == 0
    assert run({"CNI_COMMAND": "STATUS", "CNI_PATH": ""}, conf)[0] == 0
    assert run({"CNI_COMMAND": "GC", "CNI_PATH": ""}, CONF)[1]["code"] == 1


def test_cni_args_parsing():
    assert skeleton.parse_cni_args("IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.0.0.5") == {
        "IgnoreUnknown": "1", "K8S_POD_NAME": "web", "IP": "10.0.0.5"}
    status, out = run(dict(ENV, CNI_ARGS="novalue"), CONF)
    assert out["code"] == 4


def test_exit_now_flushes_the_result_before_ending_the_process():
    import os
    import subprocess
    import sys
    src = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "src"))
    code = (f"import sys; sys.path.insert(0, {src!r}); from hull.cni import skeleton; "
            "sys.stdout.write('{\"cniVersion\": \"1.0.0\"}'); skeleton.exit_now(3)")
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True)
    assert out.returncode == 3 and out.stdout == '{"cniVersion": "1.0.0"}'


def test_portmap_refuses_mappings_without_a_pod_address():
    from hull.cni.plugins import portmap
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "hull-portmap",
            "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80}]},
            "prevResult": {"cniVersion": "1.0.0", "ips": []}}
    status, out = run(ENV, conf, add=portmap.cmd_add)
    assert status == 1 and out["code"] == 7 and "no pod address" in out["msg"]
    conf["runtimeConfig"]["portMappings"] = [{"hostPort": 0, "containerPort": 80}]
    status, out = run(ENV, conf, add=portmap.cmd_add)
    assert out["code"] == 7 and "invalid port" in out["msg"]
