"""critest pkg/validate/idempotence.go: [k8s.io] Idempotence (CRI api.proto: stop/remove are idempotent)."""

import uuid

import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri

pytestmark = pytest.mark.root


def test_stoppodsandbox_should_not_return_an_error_if_not_found(f):
    """Idempotence StopPodSandbox: should not return an error if not found."""
    f.rc.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=str(uuid.uuid4())), timeout=30)


def test_stoppodsandbox_should_not_return_an_error_if_already_stopped(f):
    """Idempotence StopPodSandbox: should not return an error if already stopped."""
    pod_id = f.run_pod(cri.pod_config("idempotence-pod-"))
    f.stop_pod(pod_id)
    assert f.pod_status(pod_id).status.state == api.SANDBOX_NOTREADY
    f.stop_pod(pod_id)
    assert f.pod_status(pod_id).status.state == api.SANDBOX_NOTREADY
    f.remove_pod(pod_id)
    f.pods.remove(pod_id)


def test_removepodsandbox_should_not_return_an_error_if_not_found(f):
    """Idempotence RemovePodSandbox: should not return an error if not found."""
    f.rc.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=str(uuid.uuid4())),
                          timeout=30)


def test_stopcontainer_should_not_return_an_error_if_not_found(f):
    """Idempotence StopContainer: should not return an error if not found."""
    f.rc.StopContainer(api.StopContainerRequest(container_id=str(uuid.uuid4()), timeout=0),
                       timeout=30)


def test_stopcontainer_should_not_return_an_error_if_already_stopped(f):
    """Idempotence StopContainer: should not return an error if already stopped."""
    pod_id, pod_config = f.pod_for_container()
    cid = f.pause_container(pod_id, pod_config, "idempotence-container-")
    f.start(cid)
    f.stop(cid)
    f.wait_state(cid, api.CONTAINER_EXITED)
    f.remove(cid)
    f.remove(cid)


def test_removecontainer_should_not_return_an_error_if_not_found(f):
    """Idempotence RemoveContainer: should not return an error if not found."""
    f.rc.RemoveContainer(api.RemoveContainerRequest(container_id=str(uuid.uuid4())), timeout=30)


def test_removeimage_should_not_return_an_error_if_not_found(f):
    """Idempotence RemoveImage: should not return an error if not found."""
    fake = "0" * 64
    for _ in range(2):
        f.ic.RemoveImage(api.RemoveImageRequest(image=api.ImageSpec(image=fake)), timeout=30)
