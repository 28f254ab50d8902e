"""Exec through hulld's streaming server, as kubectl/crictl drive it, over SPDY and WebSocket."""

from __future__ import annotations

import time

import pytest

from hull._generated import api_pb2 as api
from hull.testing.streaming import RemoteCommand
from tests.integration.cri_streaming.conftest import run

pytestmark = pytest.mark.root


@pytest.fixture
def sleeper(pods):
    sid, cfg = pods.run()
    return pods.container(sid, cfg)


def exec_url(pods, cid: str, cmd: list[str], *, stdin=False, tty=False) -> str:
    return pods.rt.Exec(api.ExecRequest(container_id=cid, cmd=cmd, stdin=stdin, stdout=True,
                                        stderr=not tty, tty=tty), timeout=10).url


async def one_shot(url: str, transport: str, **kwargs):
    session = await RemoteCommand.open(url, transport, **kwargs)
    return await session.finish()


def test_echo_prints_and_succeeds(pods, sleeper, transport):
    outcome = run(one_shot(exec_url(pods, sleeper, ["echo", "hi"]), transport))
    assert outcome.stdout == b"hi\n"
    assert outcome.status == {"metadata": {}, "status": "Success"}
    assert outcome.exit_code == 0


def test_exit_code_and_stderr_come_back(pods, sleeper, transport):
    cmd = ["sh", "-c", "echo oops >&2; exit 3"]
    outcome = run(one_shot(exec_url(pods, sleeper, cmd), transport))
    assert outcome.stderr == b"oops\n"
    assert outcome.stdout == b""
    assert outcome.status["reason"] == "NonZeroExitCode"
    assert outcome.exit_code == 3


def test_stdin_reaches_the_command_and_eof_ends_it(pods, sleeper, transport):
    url = exec_url(pods, sleeper, ["sh", "-c", "tr a-z A-Z; echo done"], stdin=True)

    async def scenario():
        session = await RemoteCommand.open(url, transport, stdin=True)
        await session.write(b"hello ")
        await session.write(b"streams\n")
        await session.close_stdin()
        return await session.finish()

    outcome = run(scenario())
    assert outcome.stdout == b"HELLO STREAMS\ndone\n"
    assert outcome.exit_code == 0


def test_tty_resize_is_seen_by_stty(pods, sleeper, transport):
    url = exec_url(pods, sleeper, ["sh"], stdin=True, tty=True)

    async def scenario():
        session = await RemoteCommand.open(url, transport, stdin=True, tty=True)
        await session.resize(100, 40)
        await session.read_until(b"# ")    # the prompt: type only once the shell reads
        # the echo of the line shows $((..)), the output the number
        await session.write(b"stty size; echo mark-$((0+1))\n")
        first = await session.read_until(b"mark-1\r\n")
        await session.resize(132, 50)
        await session.write(b"stty size; echo mark-$((1+1))\n")
        second = await session.read_until(b"mark-2\r\n")
        await session.write(b"exit 7\n")
        outcome = await session.finish()
        return first, second, outcome

    first, second, outcome = run(scenario())
    assert b"40 100\r\n" in first
    assert b"50 132\r\n" in second.split(b"mark-1\r\n", 1)[1]
    assert outcome.exit_code == 7


@pytest.mark.parametrize("transport,protocol", [
    ("spdy", "v3.channel.k8s.io"), ("spdy", "v2.channel.k8s.io"), ("spdy", "channel.k8s.io"),
    ("ws", "channel.k8s.io")])
def test_older_protocol_versions(pods, sleeper, transport, protocol):
    """Before v4 a failure is plain text on the error stream and success writes nothing."""
    ok = run(one_shot(exec_url(pods, sleeper, ["echo", "old"]), transport, protocols=[protocol]))
    assert ok.protocol == protocol
    assert ok.stdout == b"old\n" and ok.error == b""
    failed = run(one_shot(exec_url(pods, sleeper, ["sh", "-c", "exit 4"]), transport,
                          protocols=[protocol]))
    assert b"exited with 4" in failed.error


@pytest.mark.parametrize("protocol", ["v4.base64.channel.k8s.io", "base64.channel.k8s.io"])
def test_base64_websocket_protocols(pods, sleeper, protocol):
    cmd = ["sh", "-c", "printf '\\001\\377binary'; exit 5"]
    outcome = run(one_shot(exec_url(pods, sleeper, cmd), "ws", protocols=[protocol]))
    assert outcome.protocol == protocol
    assert outcome.stdout == b"\x01\xffbinary"
    if protocol.startswith("v4."):
        assert outcome.exit_code == 5
    else:
        assert b"exited with 5" in outcome.error


def test_client_leaving_ends_the_command(pods, sleeper, transport):
    url = exec_url(pods, sleeper, ["sh", "-c", "echo started; exec sleep 4321"])

    async def leave_early():
        session = await RemoteCommand.open(url, transport)
        await session.read_until(b"started")
        await session.close()

    run(leave_early())
    for _ in range(100):
        listing = pods.exec(sleeper, "ps", "-o", "args").stdout
        if b"sleep 4321" not in listing:
            break
        time.sleep(0.1)
    assert b"sleep 4321" not in listing


def test_megabytes_both_ways(pods, sleeper, transport):
    """8 MiB in through stdin, 6 MB out: nothing lost, back-pressure holds."""
    url = exec_url(pods, sleeper, ["sh", "-c", "wc -c; head -c 6000000 /dev/zero | tr '\\0' x"],
                   stdin=True)
    blob = bytes(range(256)) * (8 * 4096)

    async def scenario():
        session = await RemoteCommand.open(url, transport, stdin=True)
        for start in range(0, len(blob), 1 << 20):
            await session.write(blob[start:start + (1 << 20)])
        await session.close_stdin()
        return await session.finish(timeout=60)

    outcome = run(scenario())
    count, _, rest = outcome.stdout.partition(b"\n")
    assert int(count) == len(blob)
    assert rest == b"x" * 6_000_000
    assert outcome.exit_code == 0


def test_many_open_sessions_do_not_starve_a_new_one(pods, sleeper, transport):
    """Sessions waiting on their commands hold no threads: the 13th still runs at once."""
    urls = [exec_url(pods, sleeper, ["cat"], stdin=True) for _ in range(12)]
    quick = exec_url(pods, sleeper, ["echo", "still served"])

    async def scenario():
        held = [await RemoteCommand.open(url, transport, stdin=True) for url in urls]
        for i, session in enumerate(held):
            await session.write(f"held {i}\n".encode())
        for i, session in enumerate(held):
            await session.read_until(f"held {i}\n".encode())
        outcome = await one_shot(quick, transport)
        for session in held:
            await session.close_stdin()
        codes = [(await session.finish()).exit_code for session in held]
        return outcome, codes

    outcome, codes = run(scenario())
    assert outcome.stdout == b"still served\n"
    assert codes == [0] * 12
