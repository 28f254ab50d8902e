"""Back-off, probe counting, pod phases and CRI log reading: the supervisor's pure parts."""

from __future__ import annotations

import io
import socket
import threading
import http.server

from hull.play import logs, probes
from hull.play.backoff import Backoff
from hull.play.manifest import load_text
from hull.play.worker import pod_phase


def test_backoff_doubles_to_the_cap_and_resets():
    b = Backoff()
    assert [b.delay(n) for n in range(1, 8)] == [0, 10, 20, 40, 80, 160, 300]
    assert b.delay(30) == 300
    assert b.crashes_after(5, ran_for=1) == 6
    assert b.crashes_after(5, ran_for=600) == 1
    assert Backoff(base=0.1).delay(3) == 0.2


def test_prober_thresholds():
    p = probes.Prober("readinessProbe", {"failureThreshold": 2, "successThreshold": 2,
                                         "periodSeconds": 5, "initialDelaySeconds": 3}, {})
    assert not p.due(started_at=100.0, now=102.0)
    assert p.due(started_at=100.0, now=103.0)
    assert p.record(True) is None and p.result == probes.UNKNOWN
    assert p.record(True) == probes.SUCCESS
    assert p.record(False) is None
    assert p.record(False) == probes.FAILURE
    assert p.record(False) is None          # stays failed, no new transition
    p.reset()
    assert p.result == probes.UNKNOWN and p.last_run == 0


def test_named_probe_port():
    c = {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}
    assert probes.resolve_port("http", c) == 8080
    assert probes.resolve_port(81, c) == 81


def test_tcp_and_http_probes_against_loopback():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        c = {"name": "c"}
        assert probes.run({"httpGet": {"path": "/ok", "port": port}}, c, "", "127.0.0.1", None).ok
        bad = probes.run({"httpGet": {"path": "/bad", "port": port}}, c, "", "127.0.0.1", None)
        assert not bad.ok and "statuscode: 500" in bad.detail
        assert probes.run({"tcpSocket": {"port": port}}, c, "", "127.0.0.1", None).ok
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as s:     # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert not probes.run({"tcpSocket": {"port": free}}, {"name": "c"}, "", "127.0.0.1", None).ok


POD = """apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  restartPolicy: POLICY
  initContainers: [{name: i, image: b:1}]
  containers: [{name: a, image: b:1}]
"""


def rows(init=("terminated", 0, ""), app=("running", None, "")):
    out = {}
    for name, (state, code, reason) in (("i", init), ("a", app)):
        out[name] = {"state": state, "exit_code": code, "reason": reason, "ready": 1}
    return out


def phase(policy, **kw):
    return pod_phase(load_text(POD.replace("POLICY", policy)).pods[0], rows(**kw))


def test_pod_phases():
    assert phase("Always") == ("Running", "Running")
    assert phase("Always", init=("running", None, "")) == ("Pending", "Init:0/1")
    assert phase("Never", init=("terminated", 1, "Error")) == ("Failed", "Init:Error")
    assert phase("OnFailure", init=("terminated", 1, "CrashLoopBackOff")) == \
        ("Pending", "Init:CrashLoopBackOff")
    assert phase("Never", app=("terminated", 0, "Completed")) == ("Succeeded", "Completed")
    assert phase("Never", app=("terminated", 2, "Error")) == ("Failed", "Error")
    assert phase("OnFailure", app=("terminated", 0, "Completed")) == ("Succeeded", "Completed")
    assert phase("Always", app=("terminated", 1, "CrashLoopBackOff")) == \
        ("Pending", "CrashLoopBackOff")
    assert phase("Always", app=("waiting", None, "")) == ("Pending", "PodInitializing")


def test_cri_log_lines_joined_and_tailed():
    raw = (b"2026-01-01T00:00:00.000000001Z stdout P hel\n"
           b"2026-01-01T00:00:00.000000002Z stderr F oops\n"
           b"2026-01-01T00:00:00.000000003Z stdout F lo\n"
           b"garbage line\n"
           b"2026-01-01T00:00:00.000000004Z stdout F \n")
    assert list(logs.entries(io.BytesIO(raw))) == [b"oops\n", b"hello\n", b"\n"]
    stamped = list(logs.entries(io.BytesIO(raw), timestamps=True))
    assert stamped[0] == b"2026-01-01T00:00:00.000000002Z oops\n"


def test_log_read_tail(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(b"".join(b"2026-01-01T00:00:00Z stdout F line%d\n" % i for i in range(5)))
    out = io.BytesIO()
    logs.read(str(path), out, tail=2)
    assert out.getvalue() == b"line3\nline4\n"
