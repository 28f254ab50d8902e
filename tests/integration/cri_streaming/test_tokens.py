"""Streaming URLs are single use; unknown and reused tokens are 404, bad upgrades refused."""

from __future__ import annotations

import time

import grpc
import pytest

from hull._generated import api_pb2 as api
from hull.testing.streaming import HTTPError, RemoteCommand, spdy_headers, upgrade
from tests.integration.cri_streaming.conftest import run

pytestmark = pytest.mark.root


@pytest.fixture
def sleeper(pods):
    sid, cfg = pods.run()
    return pods.container(sid, cfg)


def exec_url(pods, cid: str) -> str:
    return pods.rt.Exec(api.ExecRequest(container_id=cid, cmd=["true"], stdout=True),
                        timeout=10).url


def test_a_token_works_once(pods, sleeper, transport):
    url = exec_url(pods, sleeper)

    async def twice():
        first = await RemoteCommand.open(url, transport, stderr=False)
        await first.finish()
        await RemoteCommand.open(url, transport, stderr=False)

    with pytest.raises(HTTPError) as caught:
        run(twice())
    assert caught.value.status == 404


def test_unknown_token_and_wrong_route_are_404(pods, sleeper, transport):
    url = exec_url(pods, sleeper)
    base, token = url.rsplit("/exec/", 1)
    for bad in (f"{base}/exec/{token}x", f"{base}/nothing/{token}"):
        with pytest.raises(HTTPError) as caught:
            run(RemoteCommand.open(bad, transport, stderr=False))
        assert caught.value.status == 404, bad

    async def still_unused():
        session = await RemoteCommand.open(url, transport, stderr=False)
        return await session.finish()

    assert run(still_unused()).exit_code == 0


def test_token_for_another_route_is_404_and_spent(pods, sleeper, transport):
    """As kubelet's cache: the token is consumed before its kind is checked."""
    url = exec_url(pods, sleeper)
    for attempt in (url.replace("/exec/", "/attach/"), url):
        with pytest.raises(HTTPError) as caught:
            run(RemoteCommand.open(attempt, transport, stderr=False))
        assert caught.value.status == 404, attempt


def test_no_common_protocol_is_forbidden(pods, sleeper):
    with pytest.raises(HTTPError) as caught:
        run(upgrade(exec_url(pods, sleeper), spdy_headers(["v9.channel.k8s.io"])))
    assert caught.value.status == 403
    assert "v4.channel.k8s.io" in caught.value.headers["x-accepted-stream-protocol-versions"]


def test_exec_url_refused_for_a_stopped_container(pods):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, command=["true"])
    for _ in range(200):
        if pods.status(cid).state == api.CONTAINER_EXITED:
            break
        time.sleep(0.05)
    with pytest.raises(grpc.RpcError) as caught:
        exec_url(pods, cid)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
