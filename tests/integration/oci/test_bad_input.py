"""Bad configs and ids: non-zero exit, one line naming the field or cause,
and nothing left behind (state dir, cgroup, process; the suite checks mounts)."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.oci.conftest import cgroup_dirs

pytestmark = pytest.mark.root


def _drop_key(config, *path):
    for key in path[:-1]:
        config = config[key]
    del config[path[-1]]


CASES = {
    "schema-type": (lambda c: c["process"].update(args="sh"), "process.args"),
    "no-ociVersion": (lambda c: _drop_key(c, "ociVersion"), "ociVersion"),
    "ociVersion-2": (lambda c: c.update(ociVersion="2.0.0"), "ociVersion"),
    "missing-rootfs": (lambda c: c["root"].update(path="/nonexistent/rootfs"), "root.path"),
    "unknown-namespace": (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
                          "linux.namespaces[5].type"),
    "bad-mount-option": (lambda c: c["mounts"].append(
        {"destination": "/bad", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=notanumber"]}), "mounts[7]"),
    "relative-mount": (lambda c: c["mounts"].append({"destination": "rel", "type": "tmpfs"}),
                       "mounts[7].destination"),
    "missing-executable": (lambda c: c["process"].update(args=["/bin/no-such-program"]),
                           "no-such-program"),
    "missing-in-path": (lambda c: c["process"].update(args=["nosuchcommand"]),
                        "nosuchcommand"),
    "bad-cwd": (lambda c: c["process"].update(cwd="relative"), "process.cwd"),
    "unknown-capability": (lambda c: c["process"]["capabilities"].update(
        bounding=["CAP_BOGUS"]), "CAP_BOGUS"),
    "bad-rlimit": (lambda c: c["process"]["rlimits"].append(
        {"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}), "process.rlimits[1].type"),
    "bad-sysctl": (lambda c: c["linux"].update(sysctl={"vm.swappiness": "1"}),
                   "linux.sysctl.vm.swappiness"),
    "bad-resources": (lambda c: c["linux"]["resources"].update(memory={"limit": "lots"}),
                      "linux.resources.memory.limit"),
    "bad-seccomp": (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_BOGUS"}),
                    "seccomp"),
    "userns-without-maps": (lambda c: c["linux"]["namespaces"].append({"type": "user"}),
                            "uidMappings"),
    "terminal-without-socket": (lambda c: c["process"].update(terminal=True),
                                "console-socket"),
    "failing-hook": (lambda c: c.update(hooks={"createRuntime": [{"path": "/bin/false"}]}),
                     "createRuntime[0]"),
    "hook-timeout": (lambda c: c.update(hooks={"prestart": [
        {"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]}), "timed out"),
    "ungrantable-capability": (lambda c: c["process"]["capabilities"].update(
        bounding=["CAP_SYS_RESOURCE"]), "CAP_SYS_RESOURCE cannot be granted"),
    "bad-ns-path": (lambda c: c["linux"]["namespaces"].__setitem__(
        1, {"type": "network", "path": "/proc/self/ns/nothing"}), "linux.namespaces[1].path"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_fails_cleanly(runtime, bundle, case):
    mutate, expected = CASES[case]
    mutate(bundle.config)
    container_id = f"hull-oci-bad-{case}"
    result = runtime.create(container_id, bundle, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0], lines[0]
    assert not (runtime.root / container_id).exists()
    assert not cgroup_dirs(container_id)


def test_invalid_json_and_missing_config(runtime, bundle):
    (bundle.path / "config.json").write_text("{not json")
    result = runtime("create", "--bundle", str(bundle.path), "hull-oci-badjson", check=False)
    assert result.returncode != 0 and "not valid JSON" in result.stderr
    os.unlink(bundle.path / "config.json")
    result = runtime("create", "--bundle", str(bundle.path), "hull-oci-nocfg", check=False)
    assert result.returncode != 0 and "config.json" in result.stderr
    assert runtime.ids() == []


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "", "..", "sp ace"])
def test_bad_container_id(runtime, bundle, bad_id):
    result = runtime.create(bad_id, bundle, check=False)
    assert result.returncode != 0
    assert "invalid container id" in result.stderr


def test_unknown_flag_and_command(runtime):
    result = runtime("create", "--bogus", "x", check=False)
    assert result.returncode != 0 and "bogus" in result.stderr
    result = runtime("frobnicate", check=False)
    assert result.returncode != 0 and "frobnicate" in result.stderr


def test_log_file_json_format(runtime, bundle, tmp_path):
    log = tmp_path / "log.json"
    bundle.config["process"]["args"] = ["/bin/no-such-program"]
    bundle.write()
    result = runtime("--log", str(log), "--log-format", "json", "create", "--bundle",
                     str(bundle.path), "hull-oci-log", check=False)
    assert result.returncode != 0
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "no-such-program" in entry["msg"]
    assert "no-such-program" in result.stderr   # runc also says it on stderr


def test_systemd_cgroup_is_a_clear_error(runtime, bundle):
    bundle.write()
    result = runtime("--systemd-cgroup", "create", "--bundle", str(bundle.path),
                     "hull-oci-sd", check=False)
    assert result.returncode != 0 and "systemd" in result.stderr
    assert runtime.ids() == []
