"""hulld's streaming server against independent clients: Go's spdystream and gorilla/websocket.

The Python kit shares the framing code with the server, so a mistake made in
both would pass unnoticed; ``goclient`` (Debian's spdystream, the SPDY
library kubelet and kubectl use, and gorilla/websocket) does what client-go's
executors do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from hull._generated import api_pb2 as api
from tests.integration.cri_streaming.test_port_forward import (  # noqa: F401 - web_pod
    BODY, PORT, REQUEST, web_pod)

pytestmark = pytest.mark.root

SOURCE = os.path.join(os.path.dirname(__file__), "goclient")
GOPATH = "/usr/share/gocode"
NEEDED = ("github.com/docker/spdystream", "github.com/gorilla/websocket")


@pytest.fixture(scope="module")
def goclient(tmp_path_factory):
    missing = [p for p in NEEDED if not os.path.isdir(os.path.join(GOPATH, "src", p))]
    if shutil.which("go") is None or missing:
        pytest.skip("needs go and Debian's golang-github-docker-spdystream-dev and "
                    "golang-github-gorilla-websocket-dev")
    out = tmp_path_factory.mktemp("goclient")
    binary = str(out / "goclient")
    env = dict(os.environ, GOPATH=GOPATH, GO111MODULE="off", GOFLAGS="",
               GOCACHE=str(out / "cache"))
    subprocess.run(["go", "build", "-o", binary, "."], cwd=SOURCE, env=env, check=True,
                   capture_output=True, timeout=300)
    return binary


def drive(goclient: str, *args: str) -> dict:
    proc = subprocess.run([goclient, *args], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


@pytest.fixture
def sleeper(pods):
    sid, cfg = pods.run()
    return pods.container(sid, cfg)


def exec_url(pods, cid: str, cmd: list[str]) -> str:
    return pods.rt.Exec(api.ExecRequest(container_id=cid, cmd=cmd, stdin=True, stdout=True,
                                        stderr=True), timeout=10).url


CMD = ["sh", "-c", "tr a-z A-Z; echo to-stderr >&2; exit 6"]


@pytest.mark.parametrize("mode", ["spdy-exec", "ws-exec"])
def test_exec_with_an_independent_client(goclient, pods, sleeper, mode):
    out = drive(goclient, mode, exec_url(pods, sleeper, CMD), "quiet input\n")
    assert out["protocol"] == ("v4.channel.k8s.io" if mode == "spdy-exec"
                               else "v5.channel.k8s.io")
    assert out["stdout"] == "QUIET INPUT\n"
    assert out["stderr"] == "to-stderr\n"
    status = json.loads(out["error"])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "6"}]


def test_port_forward_with_spdystream(goclient, pods, web_pod):  # noqa: F811
    url = pods.rt.PortForward(api.PortForwardRequest(pod_sandbox_id=web_pod), timeout=10).url
    out = drive(goclient, "spdy-forward", url, str(PORT), REQUEST.decode())
    assert out["protocol"] == "portforward.k8s.io"
    assert out["data"].endswith(BODY.decode() + "\n")
    assert out["error"] == ""
