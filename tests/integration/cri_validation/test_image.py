"""critest pkg/validate/image.go: [k8s.io] Image Manager.

critest pulls gcr.io/k8s-staging-cri-tools/test-image-*; here the same names resolve, through
hulld's registries.conf, to a docker-registry on 127.0.0.1 (see images.py). The digest
reference is that of our pushed image, not critest's pinned upstream digest.
"""


import grpc
import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri_validation.images import STAGING

pytestmark = pytest.mark.root

WITH_TAG = f"{STAGING}/test-image-tag:test"
WITHOUT_TAG = f"{STAGING}/test-image-latest"
ALL_REFERENCES = f"{STAGING}/test-image-tag:all"
DIFFERENT_TAG_DIFFERENT_IMAGE = [f"{STAGING}/test-image-{i}:latest" for i in (1, 2, 3)]
DIFFERENT_TAG_SAME_IMAGE = [f"{STAGING}/test-image-tags:{i}" for i in (1, 2, 3)]
POD_LABELS = {"io.kubernetes.pod.namespace": "cri-test", "io.kubernetes.pod.name": "cri-test-pod"}


def image_pod_config():
    """testImagePodSandbox: only the default labels."""
    return api.PodSandboxConfig(labels=POD_LABELS)


def remove_image_list(f, names):
    for name in names:
        f.remove_image(name)


def pull_public_image(f, name):
    """framework.PullPublicImage: pull, then the image must have a status."""
    ref = f.pull(name, image_pod_config())
    assert f.image_status(name) is not None, f"no status for {name} after its pull"
    return ref


def check_pull_and_remove(f, name, check):
    """testPullPublicImage."""
    f.remove_image(name)
    pull_public_image(f, name)
    status = f.image_status(name)
    assert status is not None, "Should have one image in list"
    assert status.id
    assert status.size
    check(status)
    f.remove_image(name)
    assert f.image_status(name) is None, "Should have none image in list"


def test_public_image_with_tag_should_be_pulled_and_removed(f):
    """Image Manager: public image with tag should be pulled and removed [Conformance]."""
    check_pull_and_remove(f, WITH_TAG, lambda s: list(s.repo_tags) == [WITH_TAG])


def test_public_image_should_timeout_if_requested(f):
    """Image Manager: public image should timeout if requested [Conformance]."""
    f.remove_image(WITH_TAG)
    with pytest.raises(grpc.RpcError) as e:
        f.ic.PullImage(api.PullImageRequest(image=api.ImageSpec(image=WITH_TAG)), timeout=0.001)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_public_image_without_tag_should_be_pulled_and_removed(f):
    """Image Manager: public image without tag should be pulled and removed [Conformance]."""
    check_pull_and_remove(f, WITHOUT_TAG,
                          lambda s: list(s.repo_tags) == [WITHOUT_TAG + ":latest"])


def test_public_image_with_digest_should_be_pulled_and_removed(f):
    """Image Manager: public image with digest should be pulled and removed [Conformance]."""
    digest_ref = f.suite.facts["digest_ref"]

    def check(s):
        assert list(s.repo_tags) == []
        assert list(s.repo_digests) == [digest_ref]
    check_pull_and_remove(f, digest_ref, check)


def test_image_status_should_support_all_kinds_of_references(f):
    """Image Manager: image status should support all kinds of references [Conformance]."""
    f.remove_image(ALL_REFERENCES)
    pull_public_image(f, ALL_REFERENCES)
    status = f.image_status(ALL_REFERENCES)
    assert status is not None
    assert f.image_status(status.id) == status, f"image status with {status.id}"
    for tag in status.repo_tags:
        assert f.image_status(tag) == status, f"image status with {tag}"
    for digest in status.repo_digests:
        assert f.image_status(digest) == status, f"image status with {digest}"
    f.remove_image(ALL_REFERENCES)
    assert f.image_status(ALL_REFERENCES) is None


@pytest.mark.parametrize("description,image,uid,username", [
    ("UID only", f"{STAGING}/test-image-user-uid", 1002, ""),
    ("Username only", f"{STAGING}/test-image-user-username", 0, "www-data"),
    ("UID:group", f"{STAGING}/test-image-user-uid-group", 1003, ""),
    ("Username:group", f"{STAGING}/test-image-user-username-group", 0, "www-data"),
])
def test_image_status_get_image_fields_should_not_have_uid_username_empty(
        f, description, image, uid, username):
    """Image Manager: image status get image fields should not have Uid|Username empty
    [Conformance]."""
    pull_public_image(f, image)
    try:
        status = f.image_status(image)
        assert status.uid.value == uid, f"{description}, Image Uid should be {uid}"
        assert status.username == username, f"{description}, Image Username should be {username}"
    finally:
        f.remove_image(image)


def test_listimage_should_get_exactly_3_image_in_the_result_list(f):
    """Image Manager: listImage should get exactly 3 image in the result list [Conformance]."""
    remove_image_list(f, DIFFERENT_TAG_DIFFERENT_IMAGE)
    ids = [pull_public_image(f, name) for name in DIFFERENT_TAG_DIFFERENT_IMAGE]
    try:
        assert len(ids) == 3
        listed = f.ic.ListImages(api.ListImagesRequest(filter=api.ImageFilter()), timeout=30).images
        for i, image_id in enumerate(ids):
            for img in listed:
                if img.id == image_id:
                    assert len(img.repo_tags) == 1, "Should only have 1 repo tag"
                    assert img.repo_tags[0] == DIFFERENT_TAG_DIFFERENT_IMAGE[i]
                    break
    finally:
        remove_image_list(f, DIFFERENT_TAG_DIFFERENT_IMAGE)


def test_listimage_should_get_exactly_3_repotags_in_the_result_image(f):
    """Image Manager: listImage should get exactly 3 repoTags in the result image [Conformance]."""
    remove_image_list(f, DIFFERENT_TAG_SAME_IMAGE)
    ids = sorted(set(pull_public_image(f, name) for name in DIFFERENT_TAG_SAME_IMAGE))
    try:
        assert len(ids) == 1, f"Only 1 image id should be returned: {ids}"
        listed = f.ic.ListImages(api.ListImagesRequest(filter=api.ImageFilter()), timeout=30).images
        for img in listed:
            if img.id == ids[0]:
                assert sorted(img.repo_tags) == sorted(DIFFERENT_TAG_SAME_IMAGE), \
                    "Should have 3 repoTags in single image"
                break
    finally:
        remove_image_list(f, DIFFERENT_TAG_SAME_IMAGE)
