"""critest pkg/validate/image_volume.go: Image Volume [Feature:ImageVolume].

critest skips where the runtime answers Unimplemented or ignores a field; issue 5 requires
image volumes, so this port asserts each behaviour critest would otherwise skip on.
"""

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from tests.integration.cri_validation.conftest import PAUSE_CMD
from tests.integration.cri_validation.test_image import WITH_TAG, image_pod_config

pytestmark = pytest.mark.root

PATH = "/mnt/image-volume"
PREDEFINED = "gcr.io/k8s-staging-cri-tools/test-image-predefined-group"


def image_volume_config(prefix, ref, name, readonly=True, sub_path=""):
    config = cri.container_config(prefix, ref, PAUSE_CMD)
    config.image.user_specified_image = name
    config.mounts.add(container_path=PATH, readonly=readonly, image_sub_path=sub_path,
                      image=api.ImageSpec(image=ref, user_specified_image=name))
    return config


def create(f, pod, config):
    try:
        return f.create_container_raw(*pod, config)
    except grpc.RpcError as e:
        pytest.fail(f"CreateContainer with an image volume: {e.code()} {e.details()}")


def test_should_return_image_digest_in_containerstatus_mounts(f):
    """Image Volume: should return image digest in ContainerStatus mounts."""
    ref = f.pull(WITH_TAG, image_pod_config())
    pod = f.pod_for_container()
    cid = create(f, pod, image_volume_config("image-volume-digest-test-", ref, WITH_TAG))
    mounts = [m for m in f.status(cid).mounts if m.container_path == PATH]
    assert mounts, "the image volume mount is missing from ContainerStatus"
    assert mounts[0].image.image_ref == ref, "ImageSpec.image_ref (tag 20) should be the digest"
    f.remove(cid)


def test_should_correctly_mount_image_and_enforce_read_only(f):
    """Image Volume: should correctly mount image and enforce read-only."""
    ref = f.pull(WITH_TAG, image_pod_config())
    pod = f.pod_for_container()
    cid = create(f, pod, image_volume_config("image-volume-mount-test-", ref, WITH_TAG))
    f.start(cid)
    assert f.exec_sync(cid, ["ls", "-A", PATH + "/bin/sh"]).exit_code == 0, \
        "failed to find file in image volume"
    assert f.exec_sync(cid, ["touch", PATH + "/test-write"]).exit_code != 0, \
        "writing to image volume should fail"
    r = f.exec_sync(cid, [PATH + "/bin/ls", PATH])
    assert r.exit_code == 0, f"binary in the image volume does not run (noexec?): {r.stderr!r}"
    f.stop(cid)
    f.remove(cid)


def test_should_reject_image_volume_with_readonly_set_to_false(f):
    """Image Volume: should reject Image Volume with Readonly set to false."""
    ref = f.pull(WITH_TAG, image_pod_config())
    pod = f.pod_for_container()
    config = image_volume_config("image-volume-readonly-test-", ref, WITH_TAG, readonly=False)
    with pytest.raises(grpc.RpcError) as e:
        f.create_container_raw(*pod, config)
    assert e.value.code() != grpc.StatusCode.UNIMPLEMENTED


def test_subpath_should_succeed_when_using_a_valid_subpath(f):
    """Image Volume subPath: should succeed when using a valid subPath."""
    ref = f.pull(PREDEFINED, image_pod_config())
    pod = f.pod_for_container()
    cid = create(f, pod, image_volume_config("image-volume-subpath-test-", ref, PREDEFINED,
                                             sub_path="etc"))
    f.start(cid)
    assert f.exec_sync(cid, ["ls", PATH]).exit_code == 0, "image volume mount point missing"
    assert f.exec_sync(cid, ["ls", PATH + "/etc/passwd"]).exit_code != 0, \
        "the full image root was mounted: subPath ignored"
    r = f.exec_sync(cid, ["ls", PATH + "/passwd"])
    assert r.exit_code == 0, f"subPath content missing: {r.stderr!r}"


def test_subpath_should_fail_when_subpath_does_not_exist_in_the_image(f):
    """Image Volume subPath: should fail when subPath does not exist in the image."""
    ref = f.pull(WITH_TAG, image_pod_config())
    pod = f.pod_for_container()
    config = image_volume_config("image-volume-subpath-fail-test-", ref, WITH_TAG,
                                 sub_path="not-existing")
    with pytest.raises(grpc.RpcError) as e:
        f.create_container_raw(*pod, config)
    assert e.value.code() != grpc.StatusCode.UNIMPLEMENTED
