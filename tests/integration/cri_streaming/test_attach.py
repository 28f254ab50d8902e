"""Attach to a running container's stdio (held by conmon) over SPDY and WebSocket."""

from __future__ import annotations

import pytest

from hull._generated import api_pb2 as api
from hull.testing.streaming import RemoteCommand
from tests.integration.cri_streaming.conftest import run

pytestmark = pytest.mark.root

TICKER = ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]


def attach_url(pods, cid: str, *, stdin=False, tty=False) -> str:
    return pods.rt.Attach(api.AttachRequest(container_id=cid, stdin=stdin, stdout=True,
                                            stderr=not tty, tty=tty), timeout=10).url


def test_attach_sees_new_output(pods, transport):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, command=TICKER)

    async def scenario():
        session = await RemoteCommand.open(attach_url(pods, cid), transport)
        await session.read_until(b"tick")
        seen = session.outcome.stdout
        await session.close()
        return seen

    seen = run(scenario())
    numbers = [int(line.split()[1]) for line in seen.decode().splitlines()
               if line.startswith("tick ")]
    assert numbers, seen
    assert pods.status(cid).state == api.CONTAINER_RUNNING   # detaching leaves it running


def test_attach_stdin_and_exit_status(pods, transport):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, command=["sh", "-c",
                                            "while read line; do echo got $line; done; "
                                            "echo bye; exit 0"],
                         stdin=True, stdin_once=True)

    async def scenario():
        session = await RemoteCommand.open(attach_url(pods, cid, stdin=True), transport,
                                           stdin=True)
        await session.write(b"one\n")
        await session.read_until(b"got one\n")
        await session.write(b"two\n")
        await session.close_stdin()
        return await session.finish()

    outcome = run(scenario())
    assert outcome.stdout == b"got one\ngot two\nbye\n"
    assert outcome.exit_code == 0


def test_attach_with_tty_resizes_through_conmon(pods, transport):
    sid, cfg = pods.run()
    cid = pods.container(sid, cfg, command=["sh"], stdin=True, tty=True)

    async def scenario():
        session = await RemoteCommand.open(attach_url(pods, cid, stdin=True, tty=True),
                                           transport, stdin=True, tty=True)
        await session.resize(90, 33)
        await session.write(b"stty size; echo mark-$((2+3))\n")
        seen = await session.read_until(b"mark-5\r\n")
        await session.close()
        return seen

    seen = run(scenario())
    assert b"33 90\r\n" in seen
