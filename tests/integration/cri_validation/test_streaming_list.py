"""critest pkg/validate/streaming_list.go: [k8s.io] Streaming List.

critest's LoadCRIClientWithStreaming makes the List* calls over the server-streaming
Stream* RPCs; here each list gathers every message of the stream.
"""

import pytest

from hull._generated import api_pb2 as api
from hull.testing import cri
from tests.integration.cri_validation import images

pytestmark = pytest.mark.root


def stream(call, request, field):
    return [item for response in call(request, timeout=30) for item in getattr(response, field)]


def pods(f, **flt):
    return stream(f.rc.StreamPodSandboxes,
                  api.StreamPodSandboxesRequest(filter=api.PodSandboxFilter(**flt)), "pod_sandboxes")


def containers(f, **flt):
    return stream(f.rc.StreamContainers,
                  api.StreamContainersRequest(filter=api.ContainerFilter(**flt)), "containers")


def container_stats(f, **flt):
    return stream(f.rc.StreamContainerStats,
                  api.StreamContainerStatsRequest(filter=api.ContainerStatsFilter(**flt)),
                  "container_stats")


def pod_stats(f, flt=None):
    request = api.StreamPodSandboxStatsRequest()
    if flt is not None:
        request.filter.CopyFrom(flt)
    return stream(f.rc.StreamPodSandboxStats, request, "pod_sandbox_stats")


def ids(items):
    return {getattr(i, "id", None) or i.attributes.id for i in items}


def test_should_list_a_created_pod_via_streaming(f):
    """Streaming List: runtime should support streaming list for pods: should list a created pod."""
    pod_id = f.run_pod(cri.pod_config("stream-list-pod-"))
    assert pod_id in ids(pods(f, id=pod_id))


def test_should_list_pods_filtered_by_state_via_streaming(f):
    """Streaming List (pods): should list pods filtered by state via streaming."""
    pod_id = f.run_pod(cri.pod_config("stream-list-pod-state-"))
    ready = api.PodSandboxStateValue(state=api.SANDBOX_READY)
    assert pod_id in ids(pods(f, state=ready))


def test_should_list_pods_filtered_by_labels_via_streaming(f):
    """Streaming List (pods): should list pods filtered by labels via streaming."""
    labels = {"stream-test": "yes"}
    config = api.PodSandboxConfig(metadata=cri.pod_metadata("stream-list-pod-labels-" +
                                                            cri.new_uuid()), labels=labels)
    config.linux.SetInParent()
    pod_id = f.run_pod(config)
    assert pod_id in ids(pods(f, label_selector=labels))
    assert pod_id not in ids(pods(f, label_selector={"stream-test": "no"}))


def test_should_return_empty_list_for_non_existent_pod_via_streaming(f):
    """Streaming List (pods): should return empty list for non-existent pod via streaming."""
    assert pods(f, id="non-existent-id") == []


@pytest.fixture
def pod(f):
    return f.pod_for_container()


def test_should_list_a_created_container_via_streaming(f, pod):
    """Streaming List (containers): should list a created container via streaming."""
    cid = f.default_container(*pod, "stream-list-ctr-")
    assert cid in ids(containers(f, id=cid))


def test_should_list_containers_filtered_by_pod_via_streaming(f, pod):
    """Streaming List (containers): should list containers filtered by pod via streaming."""
    cid = f.default_container(*pod, "stream-list-ctr-pod-")
    assert cid in ids(containers(f, pod_sandbox_id=pod[0]))


def test_should_list_containers_filtered_by_state_via_streaming(f, pod):
    """Streaming List (containers): should list containers filtered by state via streaming."""
    cid = f.default_container(*pod, "stream-list-ctr-state-")
    f.start(cid)
    running = api.ContainerStateValue(state=api.CONTAINER_RUNNING)
    assert cid in ids(containers(f, state=running))


def test_should_list_multiple_containers_via_streaming(f, pod):
    """Streaming List (containers): should list multiple containers via streaming."""
    made = [f.default_container(*pod, f"stream-list-multi-{i}-") for i in (1, 2, 3)]
    listed = ids(containers(f, pod_sandbox_id=pod[0]))
    assert set(made) <= listed


def test_should_not_list_removed_container_via_streaming(f, pod):
    """Streaming List (containers): should not list removed container via streaming."""
    cid = f.default_container(*pod, "stream-list-ctr-remove-")
    f.remove(cid)
    assert cid not in ids(containers(f, id=cid))


def test_should_list_container_stats_via_streaming(f, pod):
    """Streaming List (containers): should list container stats via streaming."""
    cid = f.default_container(*pod, "stream-list-stats-")
    f.start(cid)
    assert cid in ids(container_stats(f, id=cid))


def test_should_list_container_stats_filtered_by_labels_via_streaming(f, pod):
    """Streaming List (containers): should list container stats filtered by labels via streaming."""
    labels = {"stream-stats": "yes"}
    cid = f.default_container(*pod, "stream-list-stats-labels-", labels=labels)
    f.start(cid)
    assert cid in ids(container_stats(f, label_selector=labels))
    assert cid not in ids(container_stats(f, label_selector={"stream-stats": "no"}))


def test_should_list_pod_sandbox_stats_by_id_via_streaming(f):
    """Streaming List (pod stats): should list pod sandbox stats by ID via streaming."""
    pod_id = f.run_pod(cri.pod_config("stream-list-pod-stats-"))
    stats = pod_stats(f, api.PodSandboxStatsFilter(id=pod_id))
    assert len(stats) == 1, stats
    assert stats[0].attributes.id == pod_id


def test_should_list_pod_sandbox_stats_with_nil_filter_via_streaming(f):
    """Streaming List (pod stats): should list pod sandbox stats with nil filter via streaming."""
    pod_id = f.run_pod(cri.pod_config("stream-list-pod-stats-nil-"))
    assert pod_id in ids(pod_stats(f))


def test_should_list_pod_sandbox_stats_filtered_by_labels_via_streaming(f):
    """Streaming List (pod stats): should list pod sandbox stats filtered by labels via streaming."""
    labels = {"stream-pod-stats": "yes"}
    config = api.PodSandboxConfig(metadata=cri.pod_metadata("stream-list-pod-stats-labels-" +
                                                            cri.new_uuid()), labels=labels)
    config.linux.SetInParent()
    pod_id = f.run_pod(config)
    assert pod_id in ids(pod_stats(f, api.PodSandboxStatsFilter(label_selector=labels)))


def test_should_list_pod_sandbox_metrics_via_streaming(f):
    """Streaming List (pod metrics): should list pod sandbox metrics via streaming."""
    pod_id = f.run_pod(cri.pod_config("stream-list-pod-metrics-"))
    metrics = stream(f.rc.StreamPodSandboxMetrics, api.StreamPodSandboxMetricsRequest(),
                     "pod_sandbox_metrics")
    assert pod_id in {m.pod_sandbox_id for m in metrics}


def image_found(images_, name):
    return any(name in i.repo_tags for i in images_)


def test_should_list_images_via_streaming(f):
    """Streaming List (images): should list images via streaming."""
    f.pull(images.BUSYBOX)
    listed = stream(f.ic.StreamImages, api.StreamImagesRequest(filter=api.ImageFilter()), "images")
    assert listed, "Image list should not be empty via streaming"
    assert image_found(listed, images.BUSYBOX)


def test_should_list_images_filtered_by_spec_via_streaming(f):
    """Streaming List (images): should list images filtered by spec via streaming."""
    f.pull(images.BUSYBOX)
    flt = api.ImageFilter(image=api.ImageSpec(image=images.BUSYBOX))
    listed = stream(f.ic.StreamImages, api.StreamImagesRequest(filter=flt), "images")
    assert listed, "Filtered image list should not be empty"
    assert image_found(listed, images.BUSYBOX)
