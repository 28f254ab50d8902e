"""Container lifecycle and restart recovery against recording fakes."""

import asyncio
import signal

import pytest

from hull._generated import api_pb2 as api
from hull.cri import lifecycle, recover
from hull.cri.model import Container, ContainerState, Sandbox, SandboxState
from tests.unit.cri.fakes import make_daemon


def _sandbox(d, sandbox_id="s" * 64):
    cfg = api.PodSandboxConfig(metadata=api.PodSandboxMetadata(name="p", namespace="n", uid="u"))
    sb = Sandbox(id=sandbox_id, name=f"p_n_u_{sandbox_id[:4]}", config=cfg,
                 runtime_handler="fake", state=SandboxState.READY)
    d.store.add_sandbox(sb)
    return sb


def _container(d, sb, cid, state=ContainerState.RUNNING, **kw):
    c = Container(id=cid, sandbox_id=sb.id, name=f"{sb.id}/{cid}_0",
                  config=api.ContainerConfig(metadata=api.ContainerMetadata(name=cid), **kw),
                  runtime_handler="fake", state=state, pid=1)
    d.store.add_container(c)
    if state is ContainerState.RUNNING:
        d.runtimes["fake"].alive.add(cid)
    return c


@pytest.fixture
def d(tmp_path):
    daemon = make_daemon(tmp_path)
    yield daemon
    asyncio.run(daemon.close())


def test_stop_sends_stop_signal_then_records_exit(d):
    sb = _sandbox(d)
    c = _container(d, sb, "c1", stop_signal=api.SIGINT)
    asyncio.run(lifecycle.stop(d, c, 10))
    rt = d.runtimes["fake"]
    assert ("kill", "c1", signal.SIGINT) in rt.calls
    assert ("kill", "c1", signal.SIGKILL) not in rt.calls
    saved = d.store.container("c1")
    assert saved.state is ContainerState.EXITED and saved.exit_code == 128 + signal.SIGINT


def test_stop_escalates_to_sigkill_after_the_grace_period(d):
    sb = _sandbox(d)
    c = _container(d, sb, "c2")
    rt = d.runtimes["fake"]
    rt.ignore_signals.add(signal.SIGTERM)
    lifecycle_wait = lifecycle._monitor_alive
    lifecycle._monitor_alive = lambda d, c: True    # conmon "alive" while the fake ignores TERM
    try:
        asyncio.run(lifecycle.stop(d, c, 1))
    finally:
        lifecycle._monitor_alive = lifecycle_wait
    kills = [call[2] for call in rt.calls if call[0] == "kill"]
    assert kills == [signal.SIGTERM, signal.SIGKILL]
    assert d.store.container("c2").exit_code == 137


def test_stop_of_exited_container_does_nothing(d):
    sb = _sandbox(d)
    c = _container(d, sb, "c3", state=ContainerState.EXITED)
    asyncio.run(lifecycle.stop(d, c, 5))
    assert not d.runtimes["fake"].calls


def test_remove_forgets_and_releases(d):
    sb = _sandbox(d)
    c = _container(d, sb, "c4", state=ContainerState.EXITED)
    asyncio.run(lifecycle.remove(d, c))
    assert d.store.container("c4") is None
    assert ("delete", "c4") in d.runtimes["fake"].calls
    assert ("remove_rootfs", "c4") in d.images.calls


def test_recover_records_exits_and_drops_half_made(d):
    from hull.cri.runtime import Exit

    sb = _sandbox(d)
    _container(d, sb, "ran")
    _container(d, sb, "runs")
    _container(d, sb, "half", state=ContainerState.CREATING)
    rt = d.runtimes["fake"]
    rt.alive.discard("ran")
    rt.exits["ran"] = Exit(exit_code=3, finished_at=99)
    counts = recover.recover(d)
    assert counts["exited"] == 1 and counts["removed_containers"] == 1
    ran = d.store.container("ran")
    assert ran.state is ContainerState.EXITED and ran.exit_code == 3 and ran.reason == "Error"
    assert ran.finished_at == 99
    assert d.store.container("runs").state is ContainerState.RUNNING
    assert d.store.container("half") is None and ("delete", "half") in rt.calls


def test_refresh_marks_vanished_container_exited(d):
    sb = _sandbox(d)
    c = _container(d, sb, "gone")
    d.runtimes["fake"].alive.discard("gone")
    refreshed = lifecycle.refresh(d, c)
    assert refreshed.state is ContainerState.EXITED and refreshed.exit_code == 255
    assert "monitor" in refreshed.message


def test_events_published_on_exit(d):
    from hull.cri.runtime import Exit

    async def run():
        sb = _sandbox(d)
        c = _container(d, sb, "ev")
        queue = d.events.subscribe()
        lifecycle.record_exit(d, c, Exit(exit_code=0, finished_at=5))
        return queue.get_nowait()

    event = asyncio.run(run())
    assert event.container_event_type == api.CONTAINER_STOPPED_EVENT
    assert event.containers_statuses[0].reason == "Completed"
    assert event.pod_sandbox_status.id == "s" * 64


def test_exit_reads_oom_killed_from_the_cgroup_when_conmon_has_not_said(d, monkeypatch):
    """conmon's oom file can come after its exit file (v1 eventfd): the
    cgroup's oom_kill count decides then. The cgroup itself is faked here:
    an OOM kill cannot be timed against conmon's event in a unit test."""
    from hull.cri import stats
    from hull.cri.runtime import Exit

    sb = _sandbox(d)
    seen = []

    def fake_stats(path, owner):
        seen.append(path)
        return {"memory": {"oomKillEvents": 1 if owner == "oom" else 0}}
    monkeypatch.setattr(stats, "cgroup_stats", fake_stats)
    for cid, code, reason in (("oom", 137, "OOMKilled"), ("plain", 137, "Error"),
                              ("clean", 0, "Completed")):
        c = _container(d, sb, cid)
        lifecycle.record_exit(d, c, Exit(exit_code=code, finished_at=1))
        assert d.store.container(cid).reason == reason, cid
    parent = sb.cgroup_parent.rstrip("/")
    assert seen == [f"{parent}/hull-oom", f"{parent}/hull-plain"]
