"""Idempotency rules and the error-code table critest and kubelet rely on."""

import grpc
import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri.conftest import code_of
from tests.integration.cri.kit import IMAGE

pytestmark = pytest.mark.root

UNKNOWN = "0" * 64


@pytest.mark.parametrize("call,request_", [
    ("StopPodSandbox", api.StopPodSandboxRequest(pod_sandbox_id=UNKNOWN)),
    ("RemovePodSandbox", api.RemovePodSandboxRequest(pod_sandbox_id=UNKNOWN)),
    ("StopContainer", api.StopContainerRequest(container_id=UNKNOWN)),
    ("RemoveContainer", api.RemoveContainerRequest(container_id=UNKNOWN)),
])
def test_stop_and_remove_of_unknown_ids_succeed(hulld, call, request_):
    assert code_of(getattr(hulld.runtime_stub, call), request_) == grpc.StatusCode.OK


def test_remove_unknown_image_succeeds(hulld):
    req = api.RemoveImageRequest(image=api.ImageSpec(image="hull.test/never-pulled:1"))
    assert code_of(hulld.image_stub.RemoveImage, req) == grpc.StatusCode.OK


@pytest.mark.parametrize("call,request_", [
    ("PodSandboxStatus", api.PodSandboxStatusRequest(pod_sandbox_id=UNKNOWN)),
    ("ContainerStatus", api.ContainerStatusRequest(container_id=UNKNOWN)),
    ("StartContainer", api.StartContainerRequest(container_id=UNKNOWN)),
    ("ExecSync", api.ExecSyncRequest(container_id=UNKNOWN, cmd=["true"])),
    ("Exec", api.ExecRequest(container_id=UNKNOWN, cmd=["true"], stdout=True)),
    ("Attach", api.AttachRequest(container_id=UNKNOWN, stdout=True)),
    ("PortForward", api.PortForwardRequest(pod_sandbox_id=UNKNOWN)),
    ("ContainerStats", api.ContainerStatsRequest(container_id=UNKNOWN)),
    ("PodSandboxStats", api.PodSandboxStatsRequest(pod_sandbox_id=UNKNOWN)),
    ("UpdateContainerResources", api.UpdateContainerResourcesRequest(container_id=UNKNOWN)),
    ("ReopenContainerLog", api.ReopenContainerLogRequest(container_id=UNKNOWN)),
    ("CreateContainer", api.CreateContainerRequest(pod_sandbox_id=UNKNOWN, config=api.ContainerConfig(
        metadata=api.ContainerMetadata(name="x"), image=api.ImageSpec(image=IMAGE)))),
])
def test_unknown_ids_are_not_found(hulld, call, request_):
    assert code_of(getattr(hulld.runtime_stub, call), request_) == grpc.StatusCode.NOT_FOUND


def test_unknown_image_status_is_empty_not_error(hulld):
    r = hulld.image_stub.ImageStatus(api.ImageStatusRequest(
        image=api.ImageSpec(image="hull.test/never-pulled:1")))
    assert not r.HasField("image")


def test_duplicate_sandbox_name_already_exists_and_nothing_half_made(pods, hulld):
    sid, cfg = pods.run()
    before = pods.rt.ListPodSandbox(api.ListPodSandboxRequest()).items
    assert code_of(pods.rt.RunPodSandbox, api.RunPodSandboxRequest(config=cfg)) == \
        grpc.StatusCode.ALREADY_EXISTS
    assert len(pods.rt.ListPodSandbox(api.ListPodSandboxRequest()).items) == len(before)
    cfg.metadata.attempt = 1     # a new attempt is a new name
    pods.made.append(pods.rt.RunPodSandbox(api.RunPodSandboxRequest(config=cfg)).pod_sandbox_id)


def test_duplicate_container_name_already_exists(pods):
    sid, cfg = pods.run()
    pods.container(sid, cfg, name="twin", start=False)
    assert code_of(pods.container, sid, cfg, name="twin", start=False) == \
        grpc.StatusCode.ALREADY_EXISTS
    listed = pods.rt.ListContainers(api.ListContainersRequest(
        filter=api.ContainerFilter(pod_sandbox_id=sid))).containers
    assert len(listed) == 1


def test_image_not_present_is_not_found_and_leaves_nothing(pods):
    sid, cfg = pods.run()
    code = code_of(pods.container, sid, cfg, image="hull.test/never-pulled:1")
    assert code == grpc.StatusCode.NOT_FOUND
    assert not pods.rt.ListContainers(api.ListContainersRequest(
        filter=api.ContainerFilter(pod_sandbox_id=sid))).containers


def test_config_that_cannot_run_fails_cleanly(pods, hulld):
    import os

    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["/no/such/binary"], start=False)
    code = code_of(pods.rt.StartContainer, api.StartContainerRequest(container_id=cid))
    assert code != grpc.StatusCode.OK
    st = pods.status(cid)
    assert st.state == api.CONTAINER_EXITED and st.reason == "StartError" and st.message
    pods.rt.RemoveContainer(api.RemoveContainerRequest(container_id=cid))
    assert not os.path.exists(os.path.join(hulld.state, "containers", cid))


@pytest.mark.parametrize("mutate,code", [
    (lambda c: c.metadata.ClearField("name"), grpc.StatusCode.INVALID_ARGUMENT),
    (lambda c: c.metadata.ClearField("uid"), grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_sandbox_config_is_invalid(pods, mutate, code):
    cfg = pods.config()
    mutate(cfg)
    assert code_of(pods.rt.RunPodSandbox, api.RunPodSandboxRequest(config=cfg)) == code


def test_container_in_stopped_sandbox_is_failed_precondition(pods):
    sid, cfg = pods.run()
    pods.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=sid))
    assert code_of(pods.container, sid, cfg) == grpc.StatusCode.FAILED_PRECONDITION


def test_exec_in_exited_container_is_failed_precondition(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    pods.rt.StopContainer(api.StopContainerRequest(container_id=cid, timeout=0))
    assert code_of(pods.rt.ExecSync, api.ExecSyncRequest(container_id=cid, cmd=["true"])) == \
        grpc.StatusCode.FAILED_PRECONDITION


def test_empty_exec_command_is_invalid(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    assert code_of(pods.rt.ExecSync, api.ExecSyncRequest(container_id=cid)) == \
        grpc.StatusCode.INVALID_ARGUMENT
