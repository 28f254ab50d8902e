"""Image config -> runtime spec: args, env, cwd, users from the image's files, annotations."""

from __future__ import annotations

import os
import stat

import pytest

from hull import errors
from hull.images.runtime_spec import image_runtime_spec, read_image_file, resolve_user
from hull.spec import image as spec


def config(**cfg) -> dict:
    return {"os": "linux", "architecture": "amd64", "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": []}}


def test_entrypoint_cmd_env_workdir(rootfs):
    out = image_runtime_spec(config(Entrypoint=["/bin/app"], Cmd=["--flag"], Env=["A=1"],
                                    WorkingDir="/srv"), [str(rootfs)])
    process = out["process"]
    assert process["args"] == ["/bin/app", "--flag"]
    assert process["cwd"] == "/srv"
    assert process["env"][0].startswith("PATH=") and "A=1" in process["env"]
    assert process["user"] == {"uid": 0, "gid": 0}


def test_base_spec_wins_where_set(rootfs):
    base = {"process": {"args": ["/bin/other"], "env": ["A=2", "B=3"], "cwd": "/tmp",
                        "user": {"uid": 5, "gid": 5}}}
    out = image_runtime_spec(config(Cmd=["/bin/sh"], Env=["A=1", "PATH=/x"], WorkingDir="/srv",
                                    User="app"), [str(rootfs)], base)
    assert out["process"]["args"] == ["/bin/other"]
    assert out["process"]["env"] == ["PATH=/x", "A=2", "B=3"]
    assert out["process"]["cwd"] == "/tmp"
    assert out["process"]["user"] == {"uid": 5, "gid": 5}
    assert "process" in base and base["process"]["env"] == ["A=2", "B=3"]  # not mutated


@pytest.mark.parametrize("user,expected", [
    ("app", {"uid": 1000, "gid": 1001, "additionalGids": [10, 29]}),
    ("1000", {"uid": 1000, "gid": 1001, "additionalGids": [10, 29]}),
    ("app:wheel", {"uid": 1000, "gid": 10}),
    ("app:7", {"uid": 1000, "gid": 7}),
    ("4242", {"uid": 4242, "gid": 0}),
    ("4242:4343", {"uid": 4242, "gid": 4343}),
    ("", {"uid": 0, "gid": 0}),
])
def test_user_resolution(rootfs, user, expected):
    assert resolve_user(user, [str(rootfs)]) == expected


@pytest.mark.parametrize("user", ["ghost", "app:nogroup"])
def test_unknown_user_or_group_is_an_error(rootfs, user):
    with pytest.raises(errors.InvalidArgument, match="not in the image"):
        resolve_user(user, [str(rootfs)])


def test_upper_layer_files_and_whiteouts_win(tmp_path, rootfs):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc/passwd").write_text("app:x:2000:2000::/:/bin/sh\n")
    assert resolve_user("app", [str(upper), str(rootfs)])["uid"] == 2000
    os.unlink(upper / "etc/passwd")
    os.mknod(upper / "etc/passwd", stat.S_IFCHR | 0o600, 0)
    assert read_image_file([str(upper), str(rootfs)], "/etc/passwd") is None
    assert read_image_file([str(upper), str(rootfs)], "/etc/group") is not None


def test_symlinks_resolve_inside_the_image(tmp_path, rootfs):
    (rootfs / "etc/link").symlink_to("../../../../etc/passwd")
    data = read_image_file([str(rootfs)], "/etc/link")
    assert data == (rootfs / "etc/passwd").read_bytes()  # clamped at the image root


def test_annotations(rootfs):
    out = image_runtime_spec(config(Cmd=["x"], ExposedPorts={"80/tcp": {}, "53/udp": {}},
                                    StopSignal="SIGQUIT", Volumes={"/data": {}}), [str(rootfs)])
    notes = out["annotations"]
    assert notes[spec.ANNOTATION_EXPOSED_PORTS] == "53/udp,80/tcp"
    assert notes[spec.ANNOTATION_STOP_SIGNAL] == "SIGQUIT"
    assert notes[spec.ANNOTATION_VOLUMES] == "/data"
    assert notes["org.opencontainers.image.architecture"] == "amd64"


def test_no_command_is_an_error(rootfs):
    with pytest.raises(errors.InvalidArgument, match="no Entrypoint or Cmd"):
        image_runtime_spec(config(), [str(rootfs)])
