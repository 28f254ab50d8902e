import pytest

from hull._generated import api_pb2 as api
from hull.cri import oci_spec
from hull.errors import InvalidArgument, NotFound


def sandbox(**kw) -> oci_spec.SandboxView:
    base = dict(namespaces={"net": "/ns/net", "ipc": "/ns/ipc", "uts": "/ns/uts"},
                files={"hostname": "/f/hostname", "hosts": "/f/hosts",
                       "resolv.conf": "/f/resolv.conf"},
                shm="/f/shm", cgroup_parent="/pods/p1", sysctls={"net.core.somaxconn": "100"},
                hostname="p1")
    base.update(kw)
    return oci_spec.SandboxView(**base)


def plan(config: api.ContainerConfig | None = None, **kw) -> oci_spec.ContainerPlan:
    base = dict(container_id="c1", config=config or api.ContainerConfig(), sandbox=sandbox(),
                rootfs="/b/rootfs", args=["sh"], env=["A=1"], cwd="/", uid=0, gid=0, groups=[0])
    base.update(kw)
    return oci_spec.ContainerPlan(**base)


def ns_types(spec):
    return {n["type"]: n.get("path") for n in spec["linux"]["namespaces"]}


def test_joins_pinned_namespaces_and_private_pid():
    spec = oci_spec.build(plan())
    assert ns_types(spec) == {"mount": None, "network": "/ns/net", "uts": "/ns/uts",
                              "ipc": "/ns/ipc", "pid": None}
    assert spec["linux"]["cgroupsPath"] == "/pods/p1/hull-c1"
    assert spec["linux"]["sysctl"] == {"net.core.somaxconn": "100"}


def test_pod_pid_namespace_joins_infra_and_target_joins_peer():
    cfg = api.ContainerConfig()
    cfg.linux.security_context.namespace_options.pid = api.POD
    spec = oci_spec.build(plan(cfg, sandbox=sandbox(infra_pid=42)))
    assert ns_types(spec)["pid"] == "/proc/42/ns/pid"
    cfg.linux.security_context.namespace_options.pid = api.TARGET
    assert ns_types(oci_spec.build(plan(cfg, target_pid=77)))["pid"] == "/proc/77/ns/pid"


def test_host_namespaces_are_not_joined_or_created():
    cfg = api.ContainerConfig()
    cfg.linux.security_context.namespace_options.pid = api.NODE
    spec = oci_spec.build(plan(cfg, sandbox=sandbox(host_network=True, host_ipc=True,
                                                     host_pid=True)))
    assert set(ns_types(spec)) == {"mount"}


def test_default_capabilities_drop_add_and_all():
    sc = api.LinuxContainerSecurityContext()
    sc.capabilities.drop_capabilities.append("NET_RAW")
    sc.capabilities.add_capabilities.append("sys_ptrace")
    caps, ambient = oci_spec.capabilities_for(sc)
    assert "CAP_NET_RAW" not in caps and "CAP_SYS_PTRACE" in caps and not ambient
    sc2 = api.LinuxContainerSecurityContext()
    sc2.capabilities.drop_capabilities.append("ALL")
    sc2.capabilities.add_capabilities.append("CHOWN")
    assert oci_spec.capabilities_for(sc2)[0] == ["CAP_CHOWN"]


def test_privileged_gets_host_capabilities_no_seccomp_no_masks():
    cfg = api.ContainerConfig()
    cfg.linux.security_context.privileged = True
    cfg.linux.security_context.seccomp.profile_type = api.SecurityProfile.RuntimeDefault
    spec = oci_spec.build(plan(cfg))
    assert spec["process"]["capabilities"]["bounding"] == oci_spec.HOST_CAPS
    assert "seccomp" not in spec["linux"] and "maskedPaths" not in spec["linux"]
    assert any(m["destination"] == "/dev" and m["type"] == "bind" for m in spec["mounts"])


def test_seccomp_choices(tmp_path):
    sc = api.LinuxContainerSecurityContext()
    assert oci_spec.seccomp_for(sc, []) is None   # unset means unconfined (CRI default)
    sc.seccomp.profile_type = api.SecurityProfile.RuntimeDefault
    profile = oci_spec.seccomp_for(sc, [])
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = profile["syscalls"][0]["names"]
    assert "read" in allowed and "mount" not in allowed and "kexec_load" not in allowed
    sc.seccomp.profile_type = api.SecurityProfile.Localhost
    sc.seccomp.localhost_ref = str(tmp_path / "missing.json")
    with pytest.raises(NotFound):
        oci_spec.seccomp_for(sc, [])
    (tmp_path / "p.json").write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    sc.seccomp.localhost_ref = str(tmp_path / "p.json")
    assert oci_spec.seccomp_for(sc, []) == {"defaultAction": "SCMP_ACT_ALLOW"}


def test_seccomp_runtime_default_grants_sys_admin_syscalls_only_with_the_cap():
    from hull.cri import seccomp_default

    without = seccomp_default.profile(["CAP_CHOWN"])
    with_admin = seccomp_default.profile(["CAP_SYS_ADMIN"])
    assert "unshare" not in without["syscalls"][0]["names"]
    assert "unshare" in with_admin["syscalls"][0]["names"]
    clone_rule = next(r for r in without["syscalls"] if r["names"] == ["clone"])
    assert clone_rule["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"


def test_masked_paths_default_or_requested():
    spec = oci_spec.build(plan())
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    cfg = api.ContainerConfig()
    cfg.linux.security_context.masked_paths.append("/proc/only")
    assert oci_spec.build(plan(cfg))["linux"]["maskedPaths"] == ["/proc/only"]


def test_resources_and_oom_clamp():
    res = api.LinuxContainerResources(cpu_shares=512, cpu_quota=50000, cpu_period=100000,
                                      memory_limit_in_bytes=1 << 26, cpuset_cpus="0",
                                      oom_score_adj=-998)
    res.hugepage_limits.add(page_size="2MB", limit=1 << 21)
    out = oci_spec.resources(res)
    assert out["cpu"] == {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}
    assert out["memory"] == {"limit": 1 << 26}
    assert out["hugepageLimits"] == [{"pageSize": "2MB", "limit": 1 << 21}]
    cfg = api.ContainerConfig()
    cfg.linux.resources.CopyFrom(res)
    assert oci_spec.build(plan(cfg, oom_score_floor=0))["process"]["oomScoreAdj"] == 0
    assert oci_spec.clamp_oom_score_adj(500, 0) == 500


def test_bind_mount_options_and_recursive_read_only_rules():
    m = api.Mount(container_path="/d", host_path="/h",
                  propagation=api.PROPAGATION_HOST_TO_CONTAINER)
    assert oci_spec.bind_mount(m, "/h", False)["options"] == ["rbind", "rslave", "rw"]
    rro = api.Mount(container_path="/d", readonly=True, recursive_read_only=True)
    assert "rro" in oci_spec.bind_mount(rro, "/h", True)["options"]
    with pytest.raises(InvalidArgument, match="does not support"):
        oci_spec.bind_mount(rro, "/h", False)
    with pytest.raises(InvalidArgument, match="readonly must be set"):
        oci_spec.bind_mount(api.Mount(container_path="/d", recursive_read_only=True), "/h", True)


def test_etc_files_readonly_with_readonly_rootfs_and_user_mount_wins():
    cfg = api.ContainerConfig()
    cfg.linux.security_context.readonly_rootfs = True
    p = plan(cfg, mounts=[{"destination": "/etc/hosts", "type": "bind", "source": "/mine",
                           "options": ["rbind"]}])
    mounts = {m["destination"]: m for m in oci_spec.build(p)["mounts"]}
    assert mounts["/etc/hosts"]["source"] == "/mine"
    assert "ro" in mounts["/etc/resolv.conf"]["options"]
    assert mounts["/dev/shm"]["source"] == "/f/shm"


def test_user_namespace_mappings_and_sysfs_bind():
    maps = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec = oci_spec.build(plan(sandbox=sandbox(uid_mappings=maps, gid_mappings=maps)))
    assert "user" in ns_types(spec)
    assert spec["linux"]["uidMappings"] == maps
    sysfs = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sysfs["type"] == "bind"


def test_devices_missing_is_not_found():
    cfg = api.ContainerConfig()
    cfg.devices.add(container_path="/dev/x", host_path="/dev/hull-no-such-device")
    with pytest.raises(NotFound):
        oci_spec.devices(cfg)
