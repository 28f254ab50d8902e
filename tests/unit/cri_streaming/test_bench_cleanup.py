"""bench/cri_streaming.py removes every pod it made, through CRI, also when a run
fails, before it stops the daemon (else containerd's netns, mounts and shims stay).
The daemons are fakes here: the real ones need root, containerd and minutes."""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_cri_streaming", os.path.join(REPO, "bench", "cri_streaming.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeRuntime:
    """The RPCs the bench calls; ``fail`` names the one that raises."""

    def __init__(self, fail: str):
        self.fail = fail
        self.pods: set[str] = set()
        self.calls: list[str] = []

    def _call(self, name: str):
        self.calls.append(name)
        if name == self.fail:
            raise RuntimeError(f"injected failure in {name}")

    def RunPodSandbox(self, request, timeout):
        self._call("RunPodSandbox")
        sid = f"pod{len(self.calls)}"
        self.pods.add(sid)
        return types.SimpleNamespace(pod_sandbox_id=sid)

    def CreateContainer(self, request, timeout):
        self._call("CreateContainer")
        return types.SimpleNamespace(container_id="ctr")

    def StartContainer(self, request, timeout):
        self._call("StartContainer")

    def ExecSync(self, request, timeout):
        self._call("ExecSync")
        return types.SimpleNamespace(exit_code=0)

    def ListPodSandbox(self, request, timeout):
        self._call("ListPodSandbox")
        return types.SimpleNamespace(items=[types.SimpleNamespace(id=p) for p in self.pods])

    def StopPodSandbox(self, request, timeout):
        self._call("StopPodSandbox")
        assert request.pod_sandbox_id in self.pods

    def RemovePodSandbox(self, request, timeout):
        self._call("RemovePodSandbox")
        self.pods.discard(request.pod_sandbox_id)


def fake_daemon(name: str, fail: str, made: list):
    class FakeDaemon:
        def __init__(self, base, bridge, subnet, *extra):
            self.name, self.base, self.cgroup_parent = name, base, "/fake"
            self.rt = FakeRuntime(fail)
            self.cleaned_with_pods = None
            made.append(self)

        def start(self):
            pass

        def cleanup(self):
            self.cleaned_with_pods = set(self.rt.pods)
    FakeDaemon.name = name
    return FakeDaemon


@pytest.mark.parametrize("fail", ["measure", "StartContainer"])
def test_a_failing_run_leaves_no_pod_of_either_daemon(fail, monkeypatch):
    bench = load_bench()
    made: list = []
    monkeypatch.setattr(bench.pods_bench, "HullDaemon", fake_daemon("hulld", "", made))
    monkeypatch.setattr(bench.pods_bench, "ContainerdDaemon",
                        fake_daemon("containerd", fail, made))

    async def measure(daemon, sid, cid, rounds):
        daemon.rt._call("measure")
        return {}
    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(sys, "argv", ["cri_streaming.py", "--rounds", "1"])
    with pytest.raises(RuntimeError, match=f"injected failure in {fail}"):
        bench.main()
    assert [d.name for d in made] == ["hulld", "containerd"]
    for daemon in made:
        assert "RunPodSandbox" in daemon.rt.calls
        assert daemon.rt.pods == set(), daemon.name
        assert daemon.cleaned_with_pods == set(), f"{daemon.name}: stopped before its pods"
