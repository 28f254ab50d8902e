"""critest pkg/validate/container_linux.go: Container Mount Propagation, Container OOM,
Container Mount Readonly."""

import os

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.sys import libc
from hull.testing import cri
from tests.integration.cri_validation import images
from tests.integration.cri_validation.conftest import PAUSE_CMD

pytestmark = pytest.mark.root

MS_BIND, MS_REC, MS_PRIVATE, MS_SHARED = 0x1000, 0x4000, 1 << 18, 1 << 20


def privileged_pod(f, privileged=True):
    """createPrivilegedPodSandbox."""
    config = cri.pod_config("create-Privileged-PodSandbox-for-container-")
    config.linux.security_context.privileged = privileged
    return f.run_pod(config), config


@pytest.fixture
def mounts_made(f):
    """Host mounts a spec makes, detached at the end even when it fails."""
    made = []
    yield made
    for target in reversed(made):
        try:
            libc.umount(target, libc.MNT_DETACH)
        except OSError:
            pass


def propagation_paths(tmp_path, propagation, made):
    """createHostPathForMountPropagation."""
    host = tmp_path / "propagation"
    mnt_source = host / "mnt"
    mnt_point = mnt_source / "propagationMnt"
    src_dir = host / "propagationSrcDir"
    mnt_point.mkdir(parents=True)
    src_dir.mkdir(parents=True)
    (src_dir / "flagFile").write_text("")
    libc.mount(str(mnt_source), str(mnt_source), "bind", MS_BIND | MS_REC, None)
    made.append(str(mnt_source))
    flag = MS_PRIVATE if propagation == api.PROPAGATION_PRIVATE else MS_SHARED
    libc.mount("", str(mnt_source), "", flag | MS_REC, None)
    return str(mnt_source), str(src_dir), str(mnt_point)


@pytest.mark.parametrize("propagation", [
    pytest.param(api.PROPAGATION_PRIVATE, id="mount with 'rprivate' should not support propagation"),
    pytest.param(api.PROPAGATION_BIDIRECTIONAL, id="mount with 'rshared' should support propagation from "
                                       "host to container and vice versa"),
    pytest.param(api.PROPAGATION_HOST_TO_CONTAINER, id="mount with 'rslave' should support propagation "
                                           "from host to container"),
])
def test_runtime_should_support_mount_propagation(f, tmp_path, mounts_made, propagation):
    """Container Mount Propagation: runtime should support mount propagation."""
    pod = privileged_pod(f)
    mnt_source, src_dir, mnt_point = propagation_paths(tmp_path, propagation, mounts_made)
    config = cri.container_config("mount-propagation-test-", images.BUSYBOX, PAUSE_CMD)
    config.linux.security_context.privileged = True
    config.mounts.add(host_path=mnt_source, container_path=mnt_source, propagation=propagation)
    cid = f.create_container(*pod, config)
    status = f.rc.ContainerStatus(api.ContainerStatusRequest(container_id=cid, verbose=True),
                                  timeout=30).status
    assert len(status.mounts) == 1, status.mounts
    m = status.mounts[0]
    assert (m.container_path, m.host_path, m.readonly, m.selinux_relabel) == \
        (mnt_source, mnt_source, False, False)
    assert m.propagation == propagation
    f.start_running(cid)
    libc.mount(src_dir, mnt_point, "bind", MS_BIND | MS_REC, None)
    mounts_made.append(mnt_point)
    out = f.exec_ok(cid, ["ls", "-A", mnt_point])
    if propagation == api.PROPAGATION_PRIVATE:
        assert out == "", "host mount should not reach an rprivate volume"
    else:
        assert out != "", "host mount should reach the container"
    container_mnt = os.path.join(mnt_source, "containerMntPoint")
    f.exec_ok(cid, ["sh", "-c", "mkdir -p " + container_mnt])
    f.exec_ok(cid, ["sh", "-c", "mount --bind /etc " + container_mnt])
    mounts_made.append(container_mnt)  # detached at the end if it propagated here
    entries = os.listdir(container_mnt)
    if propagation == api.PROPAGATION_BIDIRECTIONAL:
        assert entries, "container mount should reach the host"
    else:
        assert entries == [], "container mount should not reach the host"


def test_should_terminate_with_exitcode_137_and_reason_oomkilled(f):
    """Container OOM: runtime should output OOMKilled reason: should terminate with exitCode 137
    and reason OOMKilled."""
    pod = privileged_pod(f)
    config = cri.container_config("OOM-test-", images.BUSYBOX,
                                  ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=20M"])
    config.linux.resources.memory_limit_in_bytes = 15 * 1024 * 1024
    config.linux.resources.memory_swap_limit_in_bytes = 15 * 1024 * 1024
    cid = f.create_container(*pod, config)
    f.status(cid, verbose=True)
    f.start(cid)
    f.wait_state(cid, api.CONTAINER_EXITED)
    try:
        cri.wait_for(lambda: f.status(cid).reason == "OOMKilled", 60, 0.5, "reason OOMKilled")
    except AssertionError:
        s = f.status(cid)
        raise AssertionError(f"reason {s.reason!r} exit code {s.exit_code} message "
                             f"{s.message!r}, expected OOMKilled/137") from None
    assert f.status(cid).exit_code == 137


# Container Mount Readonly

def rro_supported(f) -> bool:
    """runtimeSupportsRRO: the default handler's features in Status."""
    status = f.rc.Status(api.StatusRequest(verbose=False), timeout=30)
    return any(h.name == "" and h.features.recursive_read_only_mounts
               for h in status.runtime_handlers)


@pytest.fixture
def rro_host_path(tmp_path, mounts_made):
    """createHostPathForRROMount: a directory with a tmpfs mounted at tmpfs/."""
    host = tmp_path / "rro"
    (host / "tmpfs").mkdir(parents=True)
    libc.mount("none", str(host / "tmpfs"), "tmpfs", 0, None)
    mounts_made.append(str(host / "tmpfs"))
    return str(host)


def mount_container(f, pod, mounts, expect_error):
    """createMountContainer."""
    config = cri.container_config("test-mount-", images.BUSYBOX, PAUSE_CMD)
    config.mounts.extend(mounts)
    if expect_error:
        f.ensure_image(images.BUSYBOX)
        with pytest.raises(grpc.RpcError):
            f.create_container_raw(*pod, config)
        return ""
    cid = f.create_container(*pod, config)
    status = f.rc.ContainerStatus(api.ContainerStatusRequest(container_id=cid, verbose=True),
                                  timeout=30).status
    assert len(status.mounts) == len(mounts)
    return cid


@pytest.mark.parametrize("rro", [
    pytest.param(False, id="should support non-recursive readonly mounts"),
    pytest.param(True, id="should support recursive readonly mounts"),
])
def test_runtime_should_support_readonly_mounts(f, rro_host_path, rro):
    """Container Mount Readonly: runtime should support readonly mounts."""
    pod = privileged_pod(f)
    if rro:
        # critest skips when the handler does not announce RRO; issue 5 requires it
        assert rro_supported(f), "the default runtime handler does not announce " \
                                 "recursive_read_only_mounts"
    mount = api.Mount(host_path=rro_host_path, container_path="/mnt", readonly=True,
                      recursive_read_only=rro, selinux_relabel=True)
    cid = mount_container(f, pod, [mount], False)
    f.start_running(cid)
    command = ["touch", "/mnt/tmpfs/file"]
    if rro:
        command = ["sh", "-c", 'touch /mnt/tmpfs/foo 2>&1 | grep -q "Read-only file system"']
    f.exec_ok(cid, command)


@pytest.mark.parametrize("propagation", [
    pytest.param(api.PROPAGATION_HOST_TO_CONTAINER,
                 id="should reject a recursive readonly mount with PROPAGATION_HOST_TO_CONTAINER"),
    pytest.param(api.PROPAGATION_BIDIRECTIONAL,
                 id="should reject a recursive readonly mount with PROPAGATION_BIDIRECTIONAL"),
])
def test_should_reject_a_recursive_readonly_mount_with_propagation(f, rro_host_path, propagation):
    """Container Mount Readonly: should reject a recursive readonly mount with propagation."""
    pod = privileged_pod(f)
    assert rro_supported(f), "recursive_read_only_mounts not announced"
    mount = api.Mount(host_path=rro_host_path, container_path="/mnt", readonly=True,
                      recursive_read_only=True, selinux_relabel=True, propagation=propagation)
    mount_container(f, pod, [mount], True)


def test_should_reject_a_recursive_readonly_mount_with_readonly_false(f, rro_host_path):
    """Container Mount Readonly: should reject a recursive readonly mount with ReadOnly: false."""
    pod = privileged_pod(f)
    assert rro_supported(f), "recursive_read_only_mounts not announced"
    mount = api.Mount(host_path=rro_host_path, container_path="/mnt", readonly=False,
                      recursive_read_only=True, selinux_relabel=True)
    mount_container(f, pod, [mount], True)
