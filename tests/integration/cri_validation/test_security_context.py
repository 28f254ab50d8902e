"""critest pkg/validate/security_context_linux.go: [k8s.io] Security Context.

Images: critest's nginx, nonewprivs and test-image-predefined-group are the stand-ins of
images.py. Where critest skips because the runtime does not announce a feature
(SupplementalGroupsPolicy, user namespaces), this port asserts the announcement instead:
issue 5 requires hull to implement them.
"""

import re
import socket
import subprocess
import threading
import time

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from tests.integration.cri_validation import images
from tests.integration.cri_validation.conftest import PAUSE_CMD, code_of

pytestmark = pytest.mark.root

STAGING = images.STAGING
PREDEFINED_GROUP_IMAGE = f"{STAGING}/test-image-predefined-group"


def running(f, cid):
    f.start(cid)
    f.wait_state(cid, api.CONTAINER_RUNNING)


def exited(f, cid):
    f.start(cid)
    f.wait_state(cid, api.CONTAINER_EXITED)


def namespace_pod(f, options: api.NamespaceOption, name: str, log_dir: str = ""):
    """createNamespacePodSandbox."""
    config = api.PodSandboxConfig(metadata=cri.pod_metadata(name), log_directory=log_dir,
                                  labels=dict(cri.DEFAULT_POD_LABELS))
    config.dns_config.SetInParent()
    config.linux.security_context.namespace_options.CopyFrom(options)
    return f.run_pod(config), config


def namespace_container(f, pod, name, image, options, command=None, log_path=""):
    """createNamespaceContainer."""
    config = api.ContainerConfig(metadata=cri.container_metadata(name),
                                 image=api.ImageSpec(image=image), log_path=log_path)
    if command:
        config.command.extend(command)
    config.linux.security_context.namespace_options.CopyFrom(options)
    return f.create_container(*pod, config)


POD_NAME = "NamespaceOption-PodSandbox-" + cri.new_uuid()


def test_runtime_should_support_hostpid(f):
    """Security Context NamespaceOption: runtime should support HostPID."""
    options = api.NamespaceOption(pid=api.NODE, ipc=api.POD, network=api.POD)
    pod = namespace_pod(f, options, POD_NAME)
    nginx_name = "nginx-container-hostpid-" + cri.new_uuid()
    cid = namespace_container(f, pod, nginx_name, images.NGINX, options)
    running(f, cid)
    nginx_pid = f.exec_ok(cid, ["sh", "-c", "while [ ! -f /var/run/nginx.pid ]; do sleep 1; "
                                "done && cat /var/run/nginx.pid"]).strip()
    cid = namespace_container(f, pod, "container-with-HostPID-test-" + cri.new_uuid(),
                              images.BUSYBOX, options, ["sh", "-c", "sleep 1000"])
    running(f, cid)
    pids = f.exec_ok(cid, ["pidof", "nginx", "||", "true"]).strip()
    assert pids, "nginx's pid should be seen by hostpid containers"
    assert nginx_pid in pids.split(), f"nginx's pid {nginx_pid} not in {pids}"


@pytest.fixture
def host_shm_segment():
    out = subprocess.run(["ipcmk", "-M", "1048576"], check=True, capture_output=True,
                         text=True).stdout
    segment = out.strip().removeprefix("Shared memory id: ")
    yield segment
    subprocess.run(["ipcrm", "-m", segment], capture_output=True)


@pytest.mark.parametrize("mode", [pytest.param(api.NODE, id="runtime should support HostIpc is true"),
                                  pytest.param(api.POD, id="runtime should support HostIpc is false")])
def test_runtime_should_support_hostipc(f, host_shm_segment, mode):
    """Security Context NamespaceOption: runtime should support HostIpc is true/false."""
    options = api.NamespaceOption(pid=api.POD, ipc=mode, network=api.POD)
    pod = namespace_pod(f, options, POD_NAME)
    cid = namespace_container(f, pod, "namespace-container-" + cri.new_uuid(), images.BUSYBOX,
                              options, PAUSE_CMD)
    running(f, cid)
    out = f.exec_ok(cid, ["ipcs", "-m"])
    if mode == api.NODE:
        assert host_shm_segment in out, "the host's shared memory segment should be visible"
    else:
        assert host_shm_segment not in out, "the host's shared memory segment should be hidden"


def test_runtime_should_support_podpid(f):
    """Security Context NamespaceOption: runtime should support PodPID."""
    options = api.NamespaceOption(pid=api.POD)
    pod = namespace_pod(f, options, POD_NAME)
    cid = namespace_container(f, pod, "nginx-container-process-namespace-" + cri.new_uuid(),
                              images.NGINX, options)
    running(f, cid)
    time.sleep(1)  # critest: waits for nginx to be up
    assert "master process" not in f.exec_ok(cid, ["cat", "/proc/1/cmdline"])


def test_runtime_should_support_containerpid(f):
    """Security Context NamespaceOption: runtime should support ContainerPID."""
    options = api.NamespaceOption(pid=api.CONTAINER)
    pod = namespace_pod(f, options, POD_NAME)
    cid = namespace_container(f, pod, "nginx-container-pid-" + cri.new_uuid(), images.NGINX,
                              options)
    running(f, cid)
    f.exec_ok(cid, ["sh", "-c", 'while ! cat /proc/1/cmdline | grep "master process"; '
                    "do sleep 1; done"])


@pytest.mark.parametrize("host_network", [
    pytest.param(True, id="runtime should support HostNetwork is true"),
    pytest.param(False, id="runtime should support HostNetwork is false")])
def test_runtime_should_support_hostnetwork(f, host_network):
    """Security Context NamespaceOption: runtime should support HostNetwork is true/false."""
    server = socket.create_server(("", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.sendall(b"hello")
                conn.close()
            except OSError:
                continue
    threading.Thread(target=serve, daemon=True).start()
    port = str(server.getsockname()[1])
    try:
        options = api.NamespaceOption(pid=api.POD, ipc=api.POD,
                                      network=api.NODE if host_network else api.POD)
        log_dir = f.log_dir_for(POD_NAME)
        pod = namespace_pod(f, options, POD_NAME, log_dir)
        name = "container-with-HostNetwork-test-" + cri.new_uuid()
        cid = namespace_container(f, pod, name, images.BUSYBOX, options,
                                  ["sh", "-c", "netstat -ln"], name + ".log")
        f.start(cid)

        def port_listed():
            try:
                return any(":" + port in m.text for m in f.log_lines(pod[1], name + ".log"))
            except OSError:
                return False
        if host_network:
            cri.wait_for(port_listed, 60, 1, f"host port {port} in the container's netstat")
        else:
            f.wait_state(cid, api.CONTAINER_EXITED)
            assert not port_listed(), f"host port {port} should not be in the container's list"
    finally:
        stop.set()
        server.close()


# bucket

def security_container(f, pod, prefix, command=PAUSE_CMD, image=images.BUSYBOX, log=False,
                       **security):
    config = cri.container_config(prefix, image, command)
    if log:
        config.log_path = config.metadata.name + ".log"
    sc = config.linux.security_context
    for key, value in security.items():
        if key in ("run_as_user", "run_as_group"):
            getattr(sc, key).value = value
        elif key == "capabilities":
            sc.capabilities.add_capabilities.extend(value[0])
            sc.capabilities.drop_capabilities.extend(value[1])
        elif isinstance(value, list):
            getattr(sc, key).extend(value)
        else:
            setattr(sc, key, value)
    return f.create_container(*pod, config), config


def test_runtime_should_support_supplementalgroups(f):
    """Security Context bucket: runtime should support SupplementalGroups."""
    pod = f.pod_for_container()
    cid, _ = security_container(f, pod, "container-with-SupplementalGroups-test-",
                                supplemental_groups=[1234, 5678])
    running(f, cid)
    groups = f.exec_ok(cid, ["id", "-G"]).strip().split(" ")
    assert "1234" in groups and "5678" in groups, groups


def test_runtime_should_support_runasuser(f):
    """Security Context bucket: runtime should support RunAsUser."""
    pod = f.pod_for_container()
    cid, _ = security_container(f, pod, "container-with-RunAsUser-test-", run_as_user=1001)
    running(f, cid)
    assert f.exec_ok(cid, ["id", "-u"]) == "1001\n"


def test_runtime_should_support_runasusername(f):
    """Security Context bucket: runtime should support RunAsUserName."""
    pod = f.pod_for_container()
    cid, _ = security_container(f, pod, "container-with-RunAsUserName-test-",
                                run_as_username="nobody")
    running(f, cid)
    assert f.exec_ok(cid, ["id", "-nu"]) == "nobody\n"


def test_runtime_should_support_runasgroup(f):
    """Security Context bucket: runtime should support RunAsGroup."""
    pod = f.pod_with_log_directory()
    cid, config = security_container(f, pod, "container-with-RunAsGroup-test-",
                                      ["sh", "-c", "echo $(id -u):$(id -g)"], log=True,
                                      run_as_user=1001, run_as_group=1002)
    exited(f, cid)
    f.verify_log(pod[1], config.log_path, "1001:1002\n")


def test_runtime_should_return_error_if_runasgroup_is_set_without_runasuser(f):
    """Security Context bucket: runtime should return error if RunAsGroup is set without RunAsUser."""
    pod = f.pod_for_container()
    config = cri.container_config("container-with-RunAsGroup-without-RunAsUser-test-",
                                  images.BUSYBOX, ["sh", "-c", "echo $(id -u):$(id -g)"])
    config.linux.security_context.run_as_group.value = 1002
    f.ensure_image(images.BUSYBOX)
    with pytest.raises(grpc.RpcError):
        f.create_container_raw(*pod, config)


@pytest.mark.parametrize("readonly", [
    pytest.param(False, id="runtime should support that ReadOnlyRootfs is false"),
    pytest.param(True, id="runtime should support that ReadOnlyRootfs is true")])
def test_runtime_should_support_readonlyrootfs(f, readonly):
    """Security Context bucket: runtime should support that ReadOnlyRootfs is false/true."""
    pod = f.pod_with_log_directory()
    cid, config = security_container(
        f, pod, f"container-with-ReadOnlyRootfs-{str(readonly).lower()}-test-",
        ["sh", "-c", "touch test.go && [ -f test.go ] && echo 'Found'"], log=True,
        readonly_rootfs=readonly)
    exited(f, cid)
    if readonly:
        f.verify_log(pod[1], config.log_path, "touch: test.go: Read-only file system\n", "stderr")
    else:
        f.verify_log(pod[1], config.log_path, "Found\n", "stdout")


def check_network_management(f, cid, manageable):
    r = f.exec_sync(cid, ["brctl", "addbr", "foobar"])
    msg = f"brctl addbr foobar: exit {r.exit_code} stdout {r.stdout!r} stderr {r.stderr!r}"
    assert (r.exit_code == 0) == manageable, msg


@pytest.mark.parametrize("privileged", [
    pytest.param(True, id="runtime should support Privileged is true"),
    pytest.param(False, id="runtime should support Privileged is false")])
def test_runtime_should_support_privileged(f, privileged):
    """Security Context bucket: runtime should support Privileged is true/false."""
    config = cri.pod_config("create-Privileged-PodSandbox-for-container-")
    config.linux.security_context.privileged = privileged
    pod = f.run_pod(config), config
    cid, _ = security_container(f, pod, "container-with-isPrivileged-test-",
                                privileged=privileged)
    running(f, cid)
    check_network_management(f, cid, privileged)


def test_runtime_should_support_adding_capability(f):
    """Security Context bucket: runtime should support adding capability."""
    pod = f.pod_for_container()
    cid, _ = security_container(f, pod, "container-with-added-capability-test-",
                                capabilities=(["NET_ADMIN"], []))
    running(f, cid)
    check_network_management(f, cid, True)
    cid = f.default_container(*pod, "container-with-notCapability-test-")
    running(f, cid)
    check_network_management(f, cid, False)


def test_runtime_should_support_dropping_capability(f):
    """Security Context bucket: runtime should support dropping capability."""
    pod = f.pod_for_container()
    cid, _ = security_container(f, pod, "container-with-dropped-capability-test-",
                                capabilities=([], ["NET_RAW"]))
    running(f, cid)
    r = f.exec_sync(cid, ["ping", "127.0.0.1"])
    assert r.exit_code != 0, r
    assert r.stdout != b"", r
    assert b"permission denied" in r.stderr, r


@pytest.mark.parametrize("add,expect_zero", [
    pytest.param(True, False, id="runtime should support adding ALL capabilities"),
    pytest.param(False, True, id="runtime should support dropping ALL capabilities")])
def test_runtime_should_support_all_capabilities(f, add, expect_zero):
    """Security Context bucket: runtime should support adding/dropping ALL capabilities."""
    pod = f.pod_for_container()
    caps = (["ALL"], []) if add else ([], ["ALL"])
    cid, _ = security_container(f, pod, "container-with-all-capability-test-", capabilities=caps)
    running(f, cid)
    out = f.exec_ok(cid, ["cat", "/proc/self/status"])
    zero = re.search(r"CapBnd:\s0000000000000000", out) is not None
    assert zero == expect_zero, re.search(r"CapBnd:.*", out).group(0)


def test_runtime_should_support_maskedpaths(f):
    """Security Context bucket: runtime should support MaskedPaths.

    critest runs ``/bin/sh -c ls``; Debian's busybox-static shell runs applets in-process
    (FEATURE_SH_STANDALONE) and would never exec the masked /bin/ls, so the stand-in
    names the path, which this shell does exec.
    """
    pod = f.pod_for_container()
    cid, _ = security_container(f, pod, "container-with-maskedpaths", masked_paths=["/bin/ls"])
    running(f, cid)
    r = f.exec_sync(cid, ["/bin/sh", "-c", "/bin/ls"])
    assert r.exit_code != 0, r
    assert r.stderr == b"/bin/sh: /bin/ls: Permission denied\n", r.stderr


def test_runtime_should_support_readonlypaths(f):
    """Security Context bucket: runtime should support ReadonlyPaths."""
    pod = f.pod_for_container()
    cid, _ = security_container(f, pod, "container-with-readonlypaths", readonly_paths=["/tmp"])
    running(f, cid)
    r = f.exec_sync(cid, ["touch", "/tmp/test"])
    assert r.exit_code != 0, r
    assert r.stderr == b"touch: /tmp/test: Read-only file system\n", r.stderr


# SupplementalGroupsPolicy

@pytest.mark.parametrize("policy,expected", [
    pytest.param(api.Merge, [1000, 1234, 50000],
                 id="Merge: if the container's primary UID belongs to some groups in the image, "
                    "runtime should add SupplementalGroups to them"),
    pytest.param(api.Strict, [1000, 1234],
                 id="Strict: even if the container's primary UID belongs to some groups in the "
                    "image, runtime should not add SupplementalGroups to them")])
def test_supplemental_groups_policy(f, policy, expected):
    """Security Context SupplementalGroupsPolicy (Merge default / Strict)."""
    features = f.rc.Status(api.StatusRequest(), timeout=30).features
    assert features.supplemental_groups_policy, "Status does not announce SupplementalGroupsPolicy"
    pod = f.pod_with_log_directory()
    cid, config = security_container(f, pod, "container-with-SupplementalGroupsPolicyMerge-",
                                     ["sh", "-c", "id -G; sleep infinity"],
                                     image=PREDEFINED_GROUP_IMAGE, log=True, run_as_user=1000,
                                     supplemental_groups=[1234],
                                     supplemental_groups_policy=policy)
    f.start(cid)

    def identity_reported():
        status = f.status(cid)
        if status.state != api.CONTAINER_RUNNING:
            return False
        user = status.user.linux
        return ((user.uid, user.gid, sorted(user.supplemental_groups)) == (1000, 1000, expected)
                and f.log_lines(pod[1], config.log_path))
    try:
        cri.wait_for(identity_reported, 60, 1, "the container's user in ContainerStatus")
    except AssertionError:
        raise AssertionError(f"ContainerStatus.user is {f.status(cid).user}, expected uid 1000 "
                             f"gid 1000 groups {expected}") from None
    line = " ".join(map(str, expected)) + "\n"
    f.verify_log(pod[1], config.log_path, line)
    assert f.exec_ok(cid, ["id", "-G"]) == line


# SeccompProfilePath

BLOCK_HOSTNAME = ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": '
                  '[{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]}')
BLOCK_CHMOD = ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": '
               '[{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}]}')
SECCOMP_GREP = ["grep", "Seccomp:", "/proc/self/status"]


@pytest.fixture
def profiles(tmp_path):
    d = tmp_path / "seccomp-tests"
    d.mkdir()
    (d / "block-host-name.json").write_text(BLOCK_HOSTNAME)
    (d / "block-chmod.json").write_text(BLOCK_CHMOD)
    return {"hostname": str(d / "block-host-name.json"), "chmod": str(d / "block-chmod.json")}


def seccomp_test_container(f, profile):
    """seccompTestContainer: the profile on both the pod and the container."""
    config = cri.pod_config("seccomp-sandbox-")
    if profile is not None:
        config.linux.security_context.seccomp.CopyFrom(profile)
    pod = f.run_pod(config), config
    cconfig = cri.container_config("seccomp-container-", images.BUSYBOX, PAUSE_CMD)
    if profile is not None:
        cconfig.linux.security_context.seccomp.CopyFrom(profile)
    cid = f.create_container(*pod, cconfig)
    running(f, cid)
    return cid


def verify_seccomp(f, cid, command, expect_error, output):
    r = f.exec_sync(cid, command)
    msg = f"{command}: exit {r.exit_code} stdout {r.stdout!r} stderr {r.stderr!r}"
    if expect_error:
        assert r.exit_code != 0, msg
        assert output.encode() in r.stderr, msg
    else:
        assert r.exit_code == 0, msg
        assert output.encode() in r.stdout, msg


def test_should_support_seccomp_unconfined_on_the_container(f):
    """Security Context SeccompProfilePath: should support seccomp unconfined on the container."""
    cid = seccomp_test_container(f, api.SecurityProfile(profile_type=api.SecurityProfile.Unconfined))
    verify_seccomp(f, cid, SECCOMP_GREP, False, "0")
    assert re.search(rb"Seccomp:\s+0\n", f.exec_sync(cid, SECCOMP_GREP).stdout)


def test_should_support_seccomp_localhost_profile_on_the_container(f, profiles):
    """Security Context SeccompProfilePath: should support seccomp localhost profile on the
    container."""
    cid = seccomp_test_container(f, api.SecurityProfile(
        profile_type=api.SecurityProfile.Localhost, localhost_ref=profiles["chmod"]))
    verify_seccomp(f, cid, ["chmod", "400", "/"], True, "Operation not permitted")


def test_should_support_seccomp_default_on_the_container(f):
    """Security Context SeccompProfilePath: should support seccomp default on the container."""
    cid = seccomp_test_container(f, api.SecurityProfile())
    verify_seccomp(f, cid, SECCOMP_GREP, False, "2")


def test_should_support_nil_profile_which_is_unconfined(f):
    """Security Context SeccompProfilePath: should support nil profile, which is unconfined."""
    cid = seccomp_test_container(f, None)
    verify_seccomp(f, cid, SECCOMP_GREP, False, "0")
    assert re.search(rb"Seccomp:\s+0\n", f.exec_sync(cid, SECCOMP_GREP).stdout)


def seccomp_container(f, pod, profile, caps, privileged):
    """createSeccompContainer."""
    config = cri.container_config("container-with-block-hostname-seccomp-profile-test-",
                                  images.BUSYBOX, ["sleep", "60"])
    config.image.user_specified_image = images.BUSYBOX
    sc = config.linux.security_context
    sc.privileged = privileged
    sc.capabilities.add_capabilities.extend(caps)
    sc.seccomp.CopyFrom(profile)
    cid = f.create_container(*pod, config)
    running(f, cid)
    return cid


def check_set_hostname(f, cid, settable):
    r = f.exec_sync(cid, ["hostname", "ANewHostName"])
    assert (r.exit_code == 0) == settable, f"hostname: exit {r.exit_code} stderr {r.stderr!r}"


def test_runtime_should_not_block_setting_host_name_with_unconfined_seccomp_and_sys_admin(f):
    """Security Context SeccompProfilePath: runtime should not block setting host name with
    unconfined seccomp and SYS_ADMIN."""
    pod = f.pod_for_container()
    cid = seccomp_container(f, pod, api.SecurityProfile(profile_type=api.SecurityProfile.Unconfined),
                            ["SYS_ADMIN"], False)
    check_set_hostname(f, cid, True)


def test_runtime_should_support_an_seccomp_profile_that_blocks_setting_hostname_with_sys_admin(
        f, profiles):
    """Security Context SeccompProfilePath: runtime should support an seccomp profile that blocks
    setting hostname with SYS_ADMIN."""
    pod = f.pod_for_container()
    cid = seccomp_container(f, pod, api.SecurityProfile(
        profile_type=api.SecurityProfile.Localhost, localhost_ref=profiles["hostname"]),
        ["SYS_ADMIN"], False)
    check_set_hostname(f, cid, False)


def test_runtime_should_ignore_a_seccomp_profile_that_blocks_setting_hostname_when_privileged(
        f, profiles):
    """Security Context SeccompProfilePath: runtime should ignore a seccomp profile that blocks
    setting hostname when privileged."""
    config = cri.pod_config("create-Privileged-PodSandbox-for-container-")
    config.linux.security_context.privileged = True
    pod = f.run_pod(config), config
    cid = seccomp_container(f, pod, api.SecurityProfile(
        profile_type=api.SecurityProfile.Localhost, localhost_ref=profiles["hostname"]), [], True)
    check_set_hostname(f, cid, True)


# NoNewPrivs

@pytest.mark.parametrize("no_new_privs,expected", [
    pytest.param(True, "Effective uid: 1000\n", id="should not allow privilege escalation when true"),
    pytest.param(False, "Effective uid: 0\n", id="should allow privilege escalation when false")])
def test_nonewprivs(f, no_new_privs, expected):
    """Security Context NoNewPrivs: should (not) allow privilege escalation."""
    pod = f.pod_with_log_directory()
    name = f"alpine-nnp-{str(no_new_privs).lower()}-" + cri.new_uuid()
    config = api.ContainerConfig(metadata=cri.container_metadata(name),
                                 image=api.ImageSpec(image=images.NONEWPRIVS),
                                 log_path=name + ".log")
    config.linux.security_context.no_new_privs = no_new_privs
    config.linux.security_context.run_as_user.value = 1000
    cid = f.create_container(*pod, config)
    exited(f, cid)
    f.verify_log(pod[1], name + ".log", expected)


# UserNamespaces

DEFAULT_MAPPING = [api.IDMapping(container_id=0, host_id=1000, length=100000)]


def require_userns(f):
    status = f.rc.Status(api.StatusRequest(verbose=True), timeout=30)
    assert any(h.name == "" and h.features.user_namespaces for h in status.runtime_handlers), \
        "the default runtime handler does not announce user namespaces (critest would skip)"


def userns_pod(f, userns: api.UserNamespace, log_dir=""):
    name = "user-namespaces-pod-" + cri.new_uuid()
    options = api.NamespaceOption(userns_options=userns)
    if log_dir == "":
        log_dir = f.log_dir_for(name)
    return namespace_pod(f, options, name, log_dir)


def run_userns_container(f, pod):
    name = "user-namespaces-container-" + cri.new_uuid()
    config = api.ContainerConfig(metadata=cri.container_metadata(name),
                                 image=api.ImageSpec(image=images.BUSYBOX,
                                                     user_specified_image=images.BUSYBOX),
                                 command=["cat", "/proc/self/uid_map"], log_path=name + ".log")
    config.linux.security_context.namespace_options.CopyFrom(
        pod[1].linux.security_context.namespace_options)
    cid = f.create_container(*pod, config)
    exited(f, cid)
    return name


def match_output_re(f, pod_config, name, pattern):
    msgs = f.log_lines(pod_config, name + ".log")
    assert any(re.search(pattern, m.text) for m in msgs), f"{pattern!r} not in {msgs}"


def test_user_namespaces_runtime_should_support_namespacemode_pod(f):
    """Security Context UserNamespaces (Host idmap mount support is needed): runtime should support
    NamespaceMode_POD."""
    require_userns(f)
    pod = userns_pod(f, api.UserNamespace(mode=api.POD, uids=DEFAULT_MAPPING,
                                          gids=DEFAULT_MAPPING))
    name = run_userns_container(f, pod)
    match_output_re(f, pod[1], name, r"\s+0\s+1000\s+100000\n")


def test_user_namespaces_runtime_should_support_namespacemode_node(f):
    """Security Context UserNamespaces: runtime should support NamespaceMode_NODE."""
    require_userns(f)
    pod = userns_pod(f, api.UserNamespace(mode=api.NODE))
    name = run_userns_container(f, pod)
    with open("/proc/self/uid_map") as fh:
        host = [line.split() for line in fh if line.strip()]
    for container_id, host_id, length in host:
        match_output_re(f, pod[1], name, rf"\s+{container_id}\s+{host_id}\s+{length}")


@pytest.mark.parametrize("userns", [
    pytest.param(api.UserNamespace(mode=api.POD, uids=[
        api.IDMapping(container_id=0, host_id=1000, length=100000),
        api.IDMapping(container_id=0, host_id=2000, length=100000)], gids=[
        api.IDMapping(container_id=0, host_id=1000, length=100000),
        api.IDMapping(container_id=0, host_id=2000, length=100000)]),
        id="runtime should fail if more than one mapping provided"),
    pytest.param(api.UserNamespace(mode=api.POD, uids=[
        api.IDMapping(container_id=1, host_id=1000, length=100000)], gids=[
        api.IDMapping(container_id=1, host_id=1000, length=100000)]),
        id="runtime should fail if container ID 0 is not mapped"),
    pytest.param(api.UserNamespace(mode=api.CONTAINER),
                 id="runtime should fail with NamespaceMode_CONTAINER"),
    pytest.param(api.UserNamespace(mode=api.TARGET),
                 id="runtime should fail with NamespaceMode_TARGET")])
def test_user_namespaces_runtime_should_fail(f, userns):
    """Security Context UserNamespaces: runtime should fail (RunPodSandboxError)."""
    require_userns(f)
    config = api.PodSandboxConfig(metadata=cri.pod_metadata("user-namespaces-pod-" + cri.new_uuid()),
                                  labels=dict(cri.DEFAULT_POD_LABELS))
    config.linux.security_context.namespace_options.userns_options.CopyFrom(userns)
    code = code_of(f.rc.RunPodSandbox, api.RunPodSandboxRequest(config=config), timeout=60)
    assert code != grpc.StatusCode.OK, "RunPodSandbox should fail"
