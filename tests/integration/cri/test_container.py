import os
import re
import time

import grpc
import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri.conftest import code_of
from tests.integration.cri.kit import IMAGE

pytestmark = pytest.mark.root

CRI_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d (stdout|stderr) [FP] ")


def wait_state(pods, cid, state, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = pods.status(cid)
        if status.state == state:
            return status
        time.sleep(0.05)
    raise AssertionError(f"container {cid} never reached {state}: {pods.status(cid)}")


def test_lifecycle_states_times_and_image_ids(pods, hulld):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "sleep 1000"], start=False)
    st = pods.status(cid)
    assert st.state == api.CONTAINER_CREATED and st.created_at > 0 and st.started_at == 0
    pods.rt.StartContainer(api.StartContainerRequest(container_id=cid))
    st = pods.status(cid)
    assert st.state == api.CONTAINER_RUNNING and st.started_at >= st.created_at
    image = hulld.image_stub.ImageStatus(api.ImageStatusRequest(
        image=api.ImageSpec(image=IMAGE))).image
    assert st.image_id == image.id and st.image_ref == image.id
    assert st.image.image == IMAGE
    import json

    info = json.loads(pods.rt.ContainerStatus(api.ContainerStatusRequest(
        container_id=cid, verbose=True)).info["info"])
    assert info["sandboxID"] == sid and info["pid"] > 0
    assert info["runtimeSpec"]["process"]["args"] == ["sh", "-c", "sleep 1000"]
    pods.rt.StopContainer(api.StopContainerRequest(container_id=cid, timeout=0))
    st = pods.status(cid)
    assert st.state == api.CONTAINER_EXITED and st.finished_at >= st.started_at
    assert st.exit_code == 137 and st.reason == "Error"
    assert code_of(pods.rt.StartContainer, api.StartContainerRequest(
        container_id=cid)) == grpc.StatusCode.FAILED_PRECONDITION
    pods.rt.RemoveContainer(api.RemoveContainerRequest(container_id=cid))
    assert code_of(pods.rt.ContainerStatus, api.ContainerStatusRequest(
        container_id=cid)) == grpc.StatusCode.NOT_FOUND


def test_exit_codes_and_reasons(pods):
    sid, cfg = pods.run()
    ok = pods.container(sid, cfg, ["true"])
    bad = pods.container(sid, cfg, ["sh", "-c", "exit 3"])
    assert wait_state(pods, ok, api.CONTAINER_EXITED).reason == "Completed"
    st = wait_state(pods, bad, api.CONTAINER_EXITED)
    assert st.exit_code == 3 and st.reason == "Error"


def test_log_file_in_cri_format(pods, hulld):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "echo out-line; echo err-line >&2; "
                                                "printf partial; sleep 1000"], name="logger")
    path = pods.status(cid).log_path
    assert path == os.path.join(cfg.log_directory, "logger.log")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = open(path).read() if os.path.exists(path) else ""
        if "partial" in text:
            break
        time.sleep(0.05)
    lines = text.splitlines()
    assert all(CRI_LOG_LINE.match(line) for line in lines), lines
    assert any(line.endswith("stdout F out-line") for line in lines)
    assert any(line.endswith("stderr F err-line") for line in lines)
    assert any(line.endswith("stdout P partial") for line in lines)


def test_reopen_log_starts_a_new_file(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "while true; do echo tick; sleep 0.1; done"])
    path = pods.status(cid).log_path
    time.sleep(0.3)
    os.rename(path, path + ".1")
    pods.rt.ReopenContainerLog(api.ReopenContainerLogRequest(container_id=cid))
    assert os.path.exists(path)   # synchronous, as kubelet's log rotation expects
    deadline = time.monotonic() + 10
    while not (os.path.exists(path) and "tick" in open(path).read()):
        assert time.monotonic() < deadline, "log was not reopened"
        time.sleep(0.05)


def test_exec_sync_output_exit_code_and_timeout(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    r = pods.exec(cid, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 7)
    started = time.monotonic()
    code = code_of(pods.rt.ExecSync, api.ExecSyncRequest(container_id=cid,
                                                         cmd=["sleep", "30"], timeout=1))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 20
    assert "sleep 30" not in pods.exec(cid, "ps", "-o", "args").stdout.decode()


def test_stop_honours_grace_period_then_kills(pods):
    sid, cfg = pods.run()
    polite = pods.container(sid, cfg, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"])
    stubborn = pods.container(sid, cfg, ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"])
    pods.rt.StopContainer(api.StopContainerRequest(container_id=polite, timeout=10))
    assert pods.status(polite).exit_code == 0
    started = time.monotonic()
    pods.rt.StopContainer(api.StopContainerRequest(container_id=stubborn, timeout=1))
    assert time.monotonic() - started >= 1
    assert pods.status(stubborn).exit_code == 137


def test_stop_signal_from_config(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done"],
                         stop_signal=api.SIGUSR1)
    pods.rt.StopContainer(api.StopContainerRequest(container_id=cid, timeout=10))
    st = pods.status(cid)
    assert st.exit_code == 42 and st.stop_signal == api.SIGUSR1


def test_image_config_merged_with_container_config(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "sleep 1000"], working_dir="/tmp",
                         envs=[api.KeyValue(key="MINE", value="yes")])
    env = pods.exec(cid, "env").stdout.decode()
    assert "FROM_IMAGE=1" in env and "MINE=yes" in env
    assert pods.exec(cid, "pwd").stdout == b"/tmp\n"
    # no command: the image's Cmd (/bin/sh) runs and exits at once on empty stdin
    default = pods.container(sid, cfg, command=[])
    assert wait_state(pods, default, api.CONTAINER_EXITED).exit_code == 0


def test_run_as_user_group_and_supplemental_groups(pods):
    sid, cfg = pods.run()
    sc = api.LinuxContainerSecurityContext()
    sc.run_as_user.value = 1000
    sc.run_as_group.value = 33
    sc.supplemental_groups.extend([1234])
    cid = pods.container(sid, cfg, linux=api.LinuxContainerConfig(security_context=sc))
    ids = pods.exec(cid, "id", "-u").stdout.strip(), pods.exec(cid, "id", "-g").stdout.strip()
    assert ids == (b"1000", b"33")
    groups = set(pods.exec(cid, "id", "-G").stdout.decode().split())
    assert groups == {"33", "100", "1234"}   # Merge: "users" (100) lists hull in /etc/group
    st = pods.status(cid)
    assert st.user.linux.uid == 1000 and st.user.linux.gid == 33
    assert 1234 in st.user.linux.supplemental_groups


def test_supplemental_groups_policy_strict(pods):
    sid, cfg = pods.run()
    sc = api.LinuxContainerSecurityContext(supplemental_groups_policy=api.Strict)
    sc.run_as_user.value = 1000
    sc.supplemental_groups.extend([1234])
    cid = pods.container(sid, cfg, linux=api.LinuxContainerConfig(security_context=sc))
    groups = set(pods.exec(cid, "id", "-G").stdout.decode().split())
    assert groups == {"1000", "1234"}   # Strict: not "users" from the image


def test_run_as_username_missing_is_invalid(pods):
    sid, cfg = pods.run()
    sc = api.LinuxContainerSecurityContext(run_as_username="nobody-here")
    code = code_of(pods.container, sid, cfg, linux=api.LinuxContainerConfig(security_context=sc))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_readonly_rootfs_capabilities_and_privileged(pods):
    sid, cfg = pods.run()
    sc = api.LinuxContainerSecurityContext(readonly_rootfs=True)
    sc.capabilities.drop_capabilities.append("CHOWN")
    ro = pods.container(sid, cfg, linux=api.LinuxContainerConfig(security_context=sc))
    assert pods.exec(ro, "touch", "/x").exit_code != 0
    assert pods.exec(ro, "chown", "1:1", "/tmp").exit_code != 0
    privileged = api.LinuxContainerConfig(
        security_context=api.LinuxContainerSecurityContext(privileged=True))
    assert code_of(pods.container, sid, cfg, linux=privileged) == \
        grpc.StatusCode.INVALID_ARGUMENT     # the pod did not ask to be privileged
    pcfg = pods.config()
    pcfg.linux.security_context.privileged = True
    sid, cfg = pods.run(pcfg)
    priv = pods.container(sid, cfg, linux=api.LinuxContainerConfig(
        security_context=api.LinuxContainerSecurityContext(privileged=True)))
    caps = pods.exec(priv, "grep", "CapEff", "/proc/self/status").stdout.decode()
    own = next(ln for ln in open("/proc/self/status") if ln.startswith("CapBnd"))
    assert caps.split()[1] == own.split()[1]   # everything hulld may grant


def test_seccomp_runtime_default_blocks_unshare(pods):
    sid, cfg = pods.run()
    sc = api.LinuxContainerSecurityContext()
    sc.seccomp.profile_type = api.SecurityProfile.RuntimeDefault
    sc.capabilities.add_capabilities.append("SYS_ADMIN")
    confined = pods.container(sid, cfg, linux=api.LinuxContainerConfig(security_context=sc))
    assert pods.exec(confined, "unshare", "-u", "true").exit_code == 0   # SYS_ADMIN allows it
    sc2 = api.LinuxContainerSecurityContext()
    sc2.seccomp.profile_type = api.SecurityProfile.RuntimeDefault
    blocked = pods.container(sid, cfg, linux=api.LinuxContainerConfig(security_context=sc2))
    assert pods.exec(blocked, "grep", "Seccomp:", "/proc/self/status").stdout.split()[1] == b"2"


def test_seccomp_localhost_profile(pods, tmp_path):
    import json

    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    sid, cfg = pods.run()
    sc = api.LinuxContainerSecurityContext()
    sc.seccomp.profile_type = api.SecurityProfile.Localhost
    sc.seccomp.localhost_ref = str(profile)
    cid = pods.container(sid, cfg, linux=api.LinuxContainerConfig(security_context=sc))
    assert pods.exec(cid, "mkdir", "/tmp/d").exit_code != 0
    assert pods.exec(cid, "touch", "/tmp/f").exit_code == 0


def test_masked_and_readonly_paths(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    assert pods.exec(cid, "cat", "/proc/kcore").stdout == b""
    assert pods.exec(cid, "sh", "-c", "echo 1 > /proc/sys/kernel/domainname").exit_code != 0


def test_host_path_mounts_with_readonly(pods, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello").write_text("from host")
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, mounts=[
        api.Mount(container_path="/data", host_path=str(data)),
        api.Mount(container_path="/ro", host_path=str(data), readonly=True)])
    assert pods.exec(cid, "cat", "/data/hello").stdout == b"from host"
    assert pods.exec(cid, "sh", "-c", "echo x > /data/new").exit_code == 0
    assert (data / "new").read_text() == "x\n"
    assert pods.exec(cid, "sh", "-c", "echo x > /ro/other").exit_code != 0
    mounts = [m.container_path for m in pods.status(cid).mounts]
    assert mounts == ["/data", "/ro"]


def test_missing_host_path_is_not_found(pods):
    sid, cfg = pods.run()
    code = code_of(pods.container, sid, cfg,
                   mounts=[api.Mount(container_path="/x", host_path="/nonexistent/hull")])
    assert code == grpc.StatusCode.NOT_FOUND


def test_image_volume_mount(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, mounts=[api.Mount(
        container_path="/vol", image=api.ImageSpec(image=IMAGE), readonly=True)])
    assert pods.exec(cid, "ls", "/vol/bin/busybox").exit_code == 0
    assert pods.exec(cid, "touch", "/vol/x").exit_code != 0
    sub = pods.container(sid, cfg, mounts=[api.Mount(
        container_path="/etcvol", image=api.ImageSpec(image=IMAGE), image_sub_path="etc",
        readonly=True)])
    assert b"root:x:0:0" in pods.exec(sub, "cat", "/etcvol/passwd").stdout
    mount = pods.status(sub).mounts[0]
    assert mount.image.image_ref == pods.status(sub).image_id     # the volume image's id
    writable = api.Mount(container_path="/w", image=api.ImageSpec(image=IMAGE))
    assert code_of(pods.container, sid, cfg, mounts=[writable]) == \
        grpc.StatusCode.INVALID_ARGUMENT      # image volumes are read-only by definition


def test_devices(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, devices=[api.Device(container_path="/dev/hull-null",
                                                       host_path="/dev/null",
                                                       permissions="rwm")])
    assert pods.exec(cid, "sh", "-c", "echo x > /dev/hull-null").exit_code == 0


def test_update_container_resources(pods, hulld):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    res = api.LinuxContainerResources(memory_limit_in_bytes=64 << 20, cpu_shares=512)
    pods.rt.UpdateContainerResources(api.UpdateContainerResourcesRequest(container_id=cid,
                                                                         linux=res))
    path = f"/sys/fs/cgroup/memory{hulld.cgroup_parent}/{sid}/hull-{cid}/memory.limit_in_bytes"
    assert open(path).read().strip() == str(64 << 20)
    assert pods.status(cid).resources.linux.memory_limit_in_bytes == 64 << 20


def test_oom_score_adj_is_clamped_not_failed(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, linux=api.LinuxContainerConfig(
        resources=api.LinuxContainerResources(oom_score_adj=-998)))
    value = int(pods.exec(cid, "cat", "/proc/self/oom_score_adj").stdout)
    assert -998 <= value <= 1000


def test_list_containers_filters(pods):
    sid, cfg = pods.run()
    running = pods.container(sid, cfg, name="runner")
    created = pods.container(sid, cfg, name="idle", start=False)
    listed = pods.rt.ListContainers(api.ListContainersRequest(
        filter=api.ContainerFilter(pod_sandbox_id=sid))).containers
    assert {c.id for c in listed} == {running, created}
    only_running = pods.rt.ListContainers(api.ListContainersRequest(filter=api.ContainerFilter(
        pod_sandbox_id=sid, state=api.ContainerStateValue(state=api.CONTAINER_RUNNING))))
    assert [c.id for c in only_running.containers] == [running]
    by_label = pods.rt.ListContainers(api.ListContainersRequest(filter=api.ContainerFilter(
        label_selector={"container": "idle"}))).containers
    assert [c.id for c in by_label] == [created]
    assert by_label[0].image_id.startswith("sha256:")


def test_container_stats(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "echo data > /tmp/file; sleep 1000"])
    time.sleep(0.2)
    stats = pods.rt.ContainerStats(api.ContainerStatsRequest(container_id=cid)).stats
    assert stats.attributes.id == cid and stats.attributes.metadata.name
    assert stats.cpu.usage_core_nano_seconds.value > 0
    assert stats.memory.working_set_bytes.value > 0
    assert stats.writable_layer.used_bytes.value > 0
    listed = pods.rt.ListContainerStats(api.ListContainerStatsRequest(
        filter=api.ContainerStatsFilter(pod_sandbox_id=sid))).stats
    assert [s.attributes.id for s in listed] == [cid]


def test_oom_killed_reason(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a)"],
                         linux=api.LinuxContainerConfig(resources=api.LinuxContainerResources(
                             memory_limit_in_bytes=32 << 20, memory_swap_limit_in_bytes=32 << 20)))
    st = wait_state(pods, cid, api.CONTAINER_EXITED, seconds=60)
    assert st.exit_code != 0 and st.reason == "OOMKilled"


def test_bidirectional_mount_propagates_to_host(pods, tmp_path):
    import subprocess

    from hull.sys import libc

    shared = tmp_path / "shared"
    shared.mkdir()
    libc.mount(str(shared), str(shared), None, libc.MS_BIND)
    try:
        libc.mount(None, str(shared), None, libc.MS_SHARED)
        pcfg = pods.config()
        pcfg.linux.security_context.privileged = True
        sid, cfg = pods.run(pcfg)
        sc = api.LinuxContainerSecurityContext(privileged=True)
        cid = pods.container(sid, cfg, mounts=[api.Mount(
            container_path="/shared", host_path=str(shared),
            propagation=api.PROPAGATION_BIDIRECTIONAL)],
            linux=api.LinuxContainerConfig(security_context=sc))
        assert pods.exec(cid, "sh", "-c", "mkdir /shared/sub && "
                                          "mount -t tmpfs hull-cri-prop /shared/sub").exit_code == 0
        mounts = open("/proc/self/mountinfo").read()
        assert str(shared / "sub") in mounts
        pods.exec(cid, "umount", "/shared/sub")
    finally:
        subprocess.run(["umount", "-R", str(shared)], capture_output=True)


def test_no_new_privs(pods):
    sid, cfg = pods.run()
    nnp = pods.container(sid, cfg, linux=api.LinuxContainerConfig(
        security_context=api.LinuxContainerSecurityContext(no_new_privs=True)))
    plain = pods.container(sid, cfg)
    grep = ("grep", "NoNewPrivs", "/proc/self/status")
    assert pods.exec(nnp, *grep).stdout.split()[1] == b"1"
    assert pods.exec(plain, *grep).stdout.split()[1] == b"0"


def test_tty_container_gets_a_terminal(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "tty; sleep 1000"], tty=True, stdin=True,
                         name="tty")
    path = pods.status(cid).log_path
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(path) and "/dev/pts/" in open(path).read():
            break
        time.sleep(0.05)
    assert "stdout F /dev/pts/0" in open(path).read().replace("\r", "")


def test_update_resources_before_start_applies_at_start(pods, hulld):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, start=False)
    res = api.LinuxContainerResources(memory_limit_in_bytes=48 << 20)
    pods.rt.UpdateContainerResources(api.UpdateContainerResourcesRequest(container_id=cid,
                                                                         linux=res))
    pods.rt.StartContainer(api.StartContainerRequest(container_id=cid))
    path = f"/sys/fs/cgroup/memory{hulld.cgroup_parent}/{sid}/hull-{cid}/memory.limit_in_bytes"
    assert open(path).read().strip() == str(48 << 20)
