"""hull.spec.runtime: validation names the bad field; mount option tables."""

from __future__ import annotations

import copy

import pytest

from hull.errors import InvalidArgument
from hull.spec import runtime as spec


@pytest.fixture
def config():
    return copy.deepcopy(spec.default_config())


def test_default_config_is_valid_and_matches_runc_shape(config):
    assert spec.validate(config) is config
    assert config["process"]["args"] == ["sh"]
    assert [n["type"] for n in config["linux"]["namespaces"]] == \
        ["pid", "network", "ipc", "uts", "mount"]


def test_rootless_config_has_user_namespace_and_maps():
    config = spec.default_config(rootless=True, uid=1000, gid=1000)
    spec.validate(config)
    assert {"type": "user"} in config["linux"]["namespaces"]
    assert config["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert all(m["destination"] != "/sys/fs/cgroup" for m in config["mounts"])


@pytest.mark.parametrize("version", ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.1", "1.3.0", "1.3.9"])
def test_every_1x_version_accepted(config, version):
    config["ociVersion"] = version
    spec.validate(config)


@pytest.mark.parametrize("version", ["0.9.0", "2.0.0", "1.4.0", "1.0", "one"])
def test_other_versions_rejected(config, version):
    config["ociVersion"] = version
    with pytest.raises(InvalidArgument, match="ociVersion"):
        spec.validate(config)


def set_path(config, path, value):
    *parents, last = path
    for key in parents:
        config = config[key]
    if value is KeyError:
        del config[last]
    else:
        config[last] = value


@pytest.mark.parametrize("path,value,field", [
    (("root",), KeyError, "root: required"),
    (("root", "path"), 7, "root.path: must be a string"),
    (("process", "args"), [], "process.args"),
    (("process", "args"), ["sh", 1], "process.args[1]"),
    (("process", "cwd"), "tmp", "process.cwd"),
    (("process", "env"), ["NOEQUALS"], "process.env[0]"),
    (("process", "user", "uid"), "0", "process.user.uid"),
    (("process", "user", "uid"), True, "process.user.uid"),
    (("process", "rlimits"), [{"type": "RLIMIT_X", "soft": 1, "hard": 1}],
     "process.rlimits[0].type"),
    (("process", "capabilities", "bounding"), "CAP_KILL", "process.capabilities.bounding"),
    (("mounts",), [{"type": "tmpfs"}], "mounts[0].destination: required"),
    (("mounts",), [{"destination": "/x", "options": ["idmap"]}], "mounts[0].options[0]"),
    (("linux", "namespaces"), [{"type": "pid"}, {"type": "pid"}], "listed twice"),
    (("linux", "namespaces"), [{"type": "galaxy"}], "linux.namespaces[0].type"),
    (("linux", "namespaces"), [{"type": "net", "path": "rel"}], "linux.namespaces[0]"),
    (("linux", "devices"), [{"path": "/dev/x", "type": "q", "major": 1, "minor": 1}],
     "linux.devices[0].type"),
    (("linux", "rootfsPropagation"), "sideways", "linux.rootfsPropagation"),
    (("linux", "sysctl"), {"net.ipv4.ip_forward": 1}, "linux.sysctl.net.ipv4.ip_forward"),
    (("linux", "uidMappings"), [{"containerID": 0, "hostID": 1}], "uidMappings[0].size"),
    (("hooks",), {"prestart": [{"path": "rel"}]}, "hooks.prestart[0].path"),
    (("hooks",), {"prestart": [{"path": "/x", "timeout": 0}]}, "hooks.prestart[0].timeout"),
    (("hooks",), {"later": []}, "hooks.later"),
    (("annotations",), {"a": 1}, "annotations.a"),
])
def test_validation_names_the_field(config, path, value, field):
    set_path(config, path, value)
    with pytest.raises(InvalidArgument) as info:
        spec.validate(config)
    assert field in str(info.value)


def test_mappings_need_a_user_namespace(config):
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    with pytest.raises(InvalidArgument, match="user namespace"):
        spec.validate(config)


def test_parse_mount_options_splits_flags_propagation_attrs_and_data():
    parsed = spec.parse_mount_options(["rbind", "ro", "nosuid", "rprivate", "rro", "rnoexec",
                                       "size=1m", "mode=755", "exec"])
    assert parsed.is_bind
    assert parsed.flags & spec.MS_REC and parsed.flags & spec.MS_RDONLY
    assert parsed.flags & spec.MS_NOSUID and not parsed.flags & spec.MS_NOEXEC
    assert parsed.propagation == [spec.MS_PRIVATE | spec.MS_REC]
    assert parsed.attr_set == spec.MOUNT_ATTR_RDONLY | spec.MOUNT_ATTR_NOEXEC
    assert parsed.data == ["size=1m", "mode=755"]


def test_rw_clears_ro_and_ratime_clears_atime_bits():
    parsed = spec.parse_mount_options(["ro", "rw"])
    assert not parsed.flags & spec.MS_RDONLY
    assert spec.parse_mount_options(["ratime"]).attr_clear == spec.MOUNT_ATTR_NOATIME


def test_mount_option_names_cover_runc_list():
    names = set(spec.mount_option_names())
    assert {"rbind", "rro", "nosymfollow", "rslave", "strictatime", "nodev"} <= names
