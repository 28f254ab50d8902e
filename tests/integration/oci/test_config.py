"""Each runtime-spec feature, observed from inside a real container."""

from __future__ import annotations

import os

import pytest

from tests.integration.oci.conftest import receive_one_fd, run_output

pytestmark = pytest.mark.root


def status_field(text: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in text.splitlines()
                if line.startswith(name + ":"))


def test_hostname_domainname_env_cwd(runtime, bundle):
    bundle.config["domainname"] = "example.test"
    bundle.process["env"].append("HULL_TEST=yes")
    bundle.process["cwd"] = "/tmp"
    code, out = run_output(runtime, bundle, "hull-oci-names", "sh", "-c",
                           "hostname; cat /proc/sys/kernel/domainname; echo $HULL_TEST; pwd")
    assert code == 0, out
    assert out.split() == ["hull-oci-test", "example.test", "yes", "/tmp"]


def test_user_groups_umask(runtime, bundle):
    bundle.process["user"] = {"uid": 1000, "gid": 100, "additionalGids": [33, 65534],
                              "umask": 0o077}
    code, out = run_output(runtime, bundle, "hull-oci-user", "sh", "-c",
                           "id -u; id -g; id -G; umask")
    assert code == 0, out
    uid, gid, groups, umask = out.split("\n")[:4]
    assert (uid, gid) == ("1000", "100")
    assert set(groups.split()) == {"100", "33", "65534"}
    assert umask == "0077"


def test_capabilities_and_no_new_privileges(runtime, bundle):
    caps = ["CAP_CHOWN", "CAP_KILL"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    bundle.process["noNewPrivileges"] = True
    code, out = run_output(runtime, bundle, "hull-oci-caps", "cat", "/proc/self/status")
    assert code == 0, out
    expected = (1 << 0) | (1 << 5)   # CAP_CHOWN=0, CAP_KILL=5
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(status_field(out, field), 16) == expected, field
    assert int(status_field(out, "CapInh"), 16) == 0
    assert status_field(out, "NoNewPrivs") == "1"


def test_process_is_not_dumpable_free_of_host_fds(runtime, bundle):
    code, out = run_output(runtime, bundle, "hull-oci-fds", "ls", "/proc/self/fd")
    assert code == 0, out
    assert sorted(int(fd) for fd in out.split()) == [0, 1, 2, 3]  # 3: ls's own dir fd


def test_rlimits_and_oom_score_adj(runtime, bundle):
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                                 {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}]
    bundle.process["oomScoreAdj"] = 345
    code, out = run_output(runtime, bundle, "hull-oci-rl", "sh", "-c",
                           "ulimit -n; ulimit -Hn; ulimit -u; cat /proc/self/oom_score_adj")
    assert code == 0, out
    assert out.split() == ["512", "1024", "300", "345"]


def test_negative_oom_score_adj_is_clamped_not_fatal(runtime, bundle):
    bundle.process["oomScoreAdj"] = -999
    code, out = run_output(runtime, bundle, "hull-oci-oom", "cat", "/proc/self/oom_score_adj")
    assert code == 0, out
    assert int(out.split()[0]) >= -999


def test_readonly_root_masked_and_readonly_paths(runtime, bundle):
    bundle.linux["maskedPaths"] += ["/etc/hostname", "/home"]
    code, out = run_output(runtime, bundle, "hull-oci-ro", "sh", "-c",
                           "touch /x 2>/dev/null && echo rootrw || echo rootro; "
                           "cat /etc/hostname | wc -c; ls /home | wc -l; "
                           "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo sysrw "
                           "|| echo sysro; ls /sys/firmware | wc -l")
    assert code == 0, out
    assert out.split() == ["rootro", "0", "0", "sysro", "0"]


def test_mounts_tmpfs_options_and_bind(runtime, bundle, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hello").write_text("from the host\n")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(shared),
         "options": ["rbind", "ro"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "size=1m", "mode=700"]},
        {"destination": "/etc/hosts-copy", "type": "bind",
         "source": str(shared / "hello"), "options": ["bind"]},
    ]
    code, out = run_output(runtime, bundle, "hull-oci-mnt", "sh", "-c",
                           "cat /data/hello; cat /etc/hosts-copy; "
                           "touch /data/x 2>/dev/null && echo rw || echo ro; "
                           "grep ' /scratch ' /proc/mounts; stat -c %a /scratch")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[:3] == ["from the host", "from the host", "ro"]
    assert "tmpfs /scratch tmpfs" in lines[3] and "nosuid" in lines[3] and "size=1024k" in lines[3]
    assert lines[4] == "700"
    assert not (shared / "x").exists()


def test_mount_target_symlink_cannot_escape_rootfs(runtime, bundle, tmp_path, rootfs):
    # an image symlink pointing at the host's /tmp: the mount must land inside the rootfs
    link = rootfs / "escape"
    outside = tmp_path / "outside"
    outside.mkdir()
    link.symlink_to(str(outside))
    try:
        bundle.config["mounts"].append({"destination": "/escape/m", "type": "tmpfs",
                                        "source": "tmpfs", "options": ["size=1m"]})
        code, out = run_output(runtime, bundle, "hull-oci-esc", "true")
        assert code == 0, out
        assert not (outside / "m").exists()
        assert (rootfs / str(outside).lstrip("/") / "m").is_dir()
    finally:
        link.unlink()
        import shutil

        # what the mount created inside the rootfs: rootfs/tmp/pytest-of-root/...
        created = rootfs.joinpath(*str(outside).lstrip("/").split("/")[:2])
        assert created.parent == rootfs / "tmp"
        shutil.rmtree(created, ignore_errors=True)


def test_default_devices_and_linux_devices(runtime, bundle):
    bundle.linux["devices"] = [{"path": "/dev/hull-null", "type": "c", "major": 1,
                                "minor": 3, "fileMode": 0o640, "uid": 0, "gid": 0}]
    code, out = run_output(runtime, bundle, "hull-oci-dev", "sh", "-c",
                           "ls /dev; stat -c '%t:%T %a' /dev/hull-null; echo x > /dev/hull-null "
                           "&& echo writable; readlink /dev/ptmx; readlink /dev/fd")
    assert code == 0, out
    names = set(out.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"} <= names
    assert "1:3 640" in out and "writable" in out
    assert "pts/ptmx" in out and "/proc/self/fd" in out


def test_sysctl_in_own_network_namespace(runtime, bundle):
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
    code, out = run_output(runtime, bundle, "hull-oci-sysctl", "sh", "-c",
                           "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax")
    assert code == 0, out
    assert out.split() == ["1", "123456789"]


def test_user_namespace_mappings(runtime, bundle, open_rootfs):
    bundle.config["root"]["path"] = str(open_rootfs)
    bundle.linux["namespaces"].append({"type": "user"})
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    for mount in bundle.config["mounts"]:
        if mount["destination"] == "/dev/pts":
            mount["options"] = [o for o in mount["options"] if o != "gid=5"]
    code, out = run_output(runtime, bundle, "hull-oci-userns", "sh", "-c",
                           "id -u; cat /proc/self/uid_map")
    assert code == 0, out
    lines = out.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]


def test_join_network_namespace_by_path(runtime, bundle):
    bundle.write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-nsa")
    pid = runtime.state("hull-oci-nsa")["pid"]
    netns = f"/proc/{pid}/ns/net"
    second = bundle.linux["namespaces"]
    for ns in second:
        if ns["type"] == "network":
            ns["path"] = netns
    code, out = run_output(runtime, bundle, "hull-oci-nsb", "readlink", "/proc/self/ns/net")
    assert code == 0, out
    assert out.strip() == os.readlink(netns)


def test_no_pivot_uses_chroot(runtime, bundle):
    bundle.args("sh", "-c", "hostname").write()
    import tempfile

    with tempfile.TemporaryFile() as out:
        result = runtime("run", "--no-pivot", "--bundle", str(bundle.path), "hull-oci-np",
                         stdout=out, check=False)
        out.seek(0)
        assert result.returncode == 0, result.stderr
        assert out.read().decode().strip() == "hull-oci-test"


def test_seccomp_errno_rule(runtime, bundle):
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 1}],
    }
    bundle.config["root"]["readonly"] = False
    code, out = run_output(runtime, bundle, "hull-oci-sec", "sh", "-c",
                           "mkdir /tmp/nope 2>&1; echo rc=$?")
    assert code == 0, out
    assert "rc=1" in out and "not permitted" in out.lower()


def test_cgroup_resources_applied_and_updated(runtime, bundle):
    bundle.linux["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
    bundle.linux["resources"]["pids"] = {"limit": 77}
    bundle.write()
    runtime("run", "-d", "--bundle", str(bundle.path), "hull-oci-cg")
    import json

    saved = json.loads((runtime.root / "hull-oci-cg" / "state.json").read_text())
    paths = saved["cgroup"]["paths"]
    read = lambda ctl, name: open(os.path.join(paths[ctl], name)).read().strip()  # noqa: E731
    assert read("memory", "memory.limit_in_bytes") == str(64 * 1024 * 1024)
    assert read("pids", "pids.max") == "77"
    pid = runtime.state("hull-oci-cg")["pid"]
    assert str(pid) in read("memory", "cgroup.procs").split()
    runtime("update", "--memory", "32m", "--pids-limit", "50", "hull-oci-cg")
    assert read("memory", "memory.limit_in_bytes") == str(32 * 1024 * 1024)
    assert read("pids", "pids.max") == "50"
    resources = bundle.path / "r.json"
    resources.write_text(json.dumps({"pids": {"limit": 40}}))
    runtime("update", "-r", str(resources), "hull-oci-cg")
    assert read("pids", "pids.max") == "40"


def test_cgroup_mount_shows_the_container_cgroup(runtime, bundle):
    code, out = run_output(runtime, bundle, "hull-oci-cgm", "sh", "-c",
                           "ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/pids.max")
    assert code == 0, out
    assert "memory" in out.split() and "pids" in out.split()


def test_every_oci_version_accepted(runtime, bundle):
    for i, version in enumerate(("1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.3.0")):
        bundle.config["ociVersion"] = version
        code, out = run_output(runtime, bundle, f"hull-oci-v{i}", "true")
        assert code == 0, (version, out)


def test_seccomp_notify_listener_gets_the_fd(runtime, bundle, tmp_path):
    import json as jsonlib

    path = str(tmp_path / "agent.sock")
    thread, got = receive_one_fd(path)
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path, "listenerMetadata": "meta",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mknodat"], "action": "SCMP_ACT_NOTIFY"}]}
    try:
        runtime.create("hull-oci-notify", bundle)
        runtime("start", "hull-oci-notify")   # noNewPrivileges: loaded right before exec
        thread.join(10)
        message = jsonlib.loads(got["message"])
        assert message["fds"] == ["seccompFd"]
        assert message["metadata"] == "meta"
        assert message["state"]["id"] == "hull-oci-notify"
        assert len(got["fds"]) == 1
    finally:
        for fd in got.get("fds", []):
            os.close(fd)


@pytest.mark.parametrize("propagation", ["rprivate", "rslave", "rshared", "runbindable"])
def test_rootfs_propagation(runtime, bundle, propagation):
    bundle.linux["rootfsPropagation"] = propagation
    code, out = run_output(runtime, bundle, f"hull-oci-prop-{propagation}", "sh", "-c",
                           "awk '$5 == \"/\"' /proc/self/mountinfo")
    assert code == 0, out
    tags = out.split(" - ")[0].split()[6:]   # optional fields: shared:N, master:N, ...
    # (slave shows no master: here: this host's / is private, so there is no master)
    assert any(t.startswith("shared:") for t in tags) == (propagation == "rshared"), out
    assert ("unbindable" in tags) == (propagation == "runbindable"), out
