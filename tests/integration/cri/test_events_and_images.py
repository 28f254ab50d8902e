import os
import queue
import threading
import time

import grpc
import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri.kit import IMAGE

pytestmark = pytest.mark.root


def test_container_events_stream_lifecycle(pods, hulld):
    events: queue.Queue = queue.Queue()
    stream = hulld.runtime_stub.GetContainerEvents(api.GetEventsRequest())

    def read():
        try:
            for event in stream:
                events.put(event)
        except grpc.RpcError:
            pass

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.2)
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, ["sh", "-c", "exit 0"])
    deadline = time.monotonic() + 20
    seen = []
    while time.monotonic() < deadline and api.CONTAINER_STOPPED_EVENT not in seen:
        try:
            event = events.get(timeout=1)
        except queue.Empty:
            continue
        if event.container_id == cid:
            seen.append(event.container_event_type)
            assert event.pod_sandbox_status.id == sid
            assert event.containers_statuses[0].id == cid
    pods.rt.RemoveContainer(api.RemoveContainerRequest(container_id=cid))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and api.CONTAINER_DELETED_EVENT not in seen:
        try:
            event = events.get(timeout=1)
        except queue.Empty:
            continue
        if event.container_id == cid:
            seen.append(event.container_event_type)
    stream.cancel()
    assert seen == [api.CONTAINER_CREATED_EVENT, api.CONTAINER_STARTED_EVENT,
                    api.CONTAINER_STOPPED_EVENT, api.CONTAINER_DELETED_EVENT]


def test_list_and_status_of_images(hulld):
    images = hulld.image_stub.ListImages(api.ListImagesRequest()).images
    mine = [i for i in images if IMAGE in i.repo_tags]
    assert len(mine) == 1 and mine[0].size > 0 and mine[0].id.startswith("sha256:")
    status = hulld.image_stub.ImageStatus(api.ImageStatusRequest(
        image=api.ImageSpec(image=mine[0].id), verbose=True))
    assert status.image.id == mine[0].id and "imageSpec" in status.info["info"]
    filtered = hulld.image_stub.ListImages(api.ListImagesRequest(
        filter=api.ImageFilter(image=api.ImageSpec(image=IMAGE)))).images
    assert [i.id for i in filtered] == [mine[0].id]


def test_image_fs_info(hulld):
    info = hulld.image_stub.ImageFsInfo(api.ImageFsInfoRequest())
    fs = info.image_filesystems[0]
    assert fs.fs_id.mountpoint == hulld.root
    assert fs.used_bytes.value > 0 and fs.inodes_used.value > 0 and fs.timestamp > 0


def test_pull_with_auth_from_request_then_remove(hulld, tmp_path):
    from hull.testing.registry import RegistryServer, build_image, push_image

    registry = RegistryServer(users={"hull": "s3cret"}, workdir=tmp_path / "reg").start()
    try:
        layout = tmp_path / "layout"
        build_image(layout, "v1")
        push_image(layout, "v1", f"{registry.host}/cri/pulled:v1", registry=registry,
                   creds="hull:s3cret")
        ref = f"{registry.host}/cri/pulled:v1"
        no_auth = api.PullImageRequest(image=api.ImageSpec(image=ref))
        with pytest.raises(grpc.RpcError):
            hulld.image_stub.PullImage(no_auth, timeout=120)
        pulled = hulld.image_stub.PullImage(api.PullImageRequest(
            image=api.ImageSpec(image=ref),
            auth=api.AuthConfig(username="hull", password="s3cret")), timeout=120)
        status = hulld.image_stub.ImageStatus(api.ImageStatusRequest(
            image=api.ImageSpec(image=ref))).image
        assert pulled.image_ref == status.id and ref in status.repo_tags
        hulld.image_stub.RemoveImage(api.RemoveImageRequest(image=api.ImageSpec(image=ref)))
        gone = hulld.image_stub.ImageStatus(api.ImageStatusRequest(
            image=api.ImageSpec(image=pulled.image_ref)))
        assert not gone.HasField("image")
        hulld.image_stub.RemoveImage(api.RemoveImageRequest(image=api.ImageSpec(image=ref)))
    finally:
        registry.stop()
    assert os.path.isdir(hulld.root)
