"""The Stream* RPCs (CRIListStreaming) return what their List counterparts return."""

import grpc
import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri.conftest import code_of
from tests.integration.cri.kit import IMAGE

pytestmark = pytest.mark.root


def test_stream_rpcs_match_lists(pods, hulld):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    rt, im = pods.rt, hulld.image_stub
    streamed = [p.id for r in rt.StreamPodSandboxes(api.StreamPodSandboxesRequest(
        filter=api.PodSandboxFilter(id=sid))) for p in r.pod_sandboxes]
    assert streamed == [sid]
    containers = [c.id for r in rt.StreamContainers(api.StreamContainersRequest(
        filter=api.ContainerFilter(pod_sandbox_id=sid))) for c in r.containers]
    assert containers == [cid]
    stats = [s.attributes.id for r in rt.StreamContainerStats(api.StreamContainerStatsRequest(
        filter=api.ContainerStatsFilter(id=cid))) for s in r.container_stats]
    assert stats == [cid]
    pod_stats = [s.attributes.id for r in rt.StreamPodSandboxStats(
        api.StreamPodSandboxStatsRequest(filter=api.PodSandboxStatsFilter(id=sid)))
        for s in r.pod_sandbox_stats]
    assert pod_stats == [sid]
    metrics = [m.pod_sandbox_id for r in rt.StreamPodSandboxMetrics(
        api.StreamPodSandboxMetricsRequest()) for m in r.pod_sandbox_metrics]
    assert sid in metrics
    images = [i for r in im.StreamImages(api.StreamImagesRequest()) for i in r.images]
    assert any(IMAGE in i.repo_tags for i in images)


def test_checkpoint_is_unimplemented(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    assert code_of(pods.rt.CheckpointContainer, api.CheckpointContainerRequest(
        container_id=cid)) == grpc.StatusCode.UNIMPLEMENTED


def test_streaming_requests_are_validated(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg)
    assert code_of(pods.rt.Exec, api.ExecRequest(container_id=cid, cmd=["sh"])) == \
        grpc.StatusCode.INVALID_ARGUMENT            # no stream asked for
    assert code_of(pods.rt.Exec, api.ExecRequest(container_id=cid, stdout=True)) == \
        grpc.StatusCode.INVALID_ARGUMENT            # no command
    assert code_of(pods.rt.Exec, api.ExecRequest(container_id=cid, cmd=["sh"], tty=True,
                                                 stdout=True, stderr=True)) == \
        grpc.StatusCode.INVALID_ARGUMENT            # tty multiplexes: no stderr
    assert code_of(pods.rt.Attach, api.AttachRequest(container_id=cid)) == \
        grpc.StatusCode.INVALID_ARGUMENT
