"""The bounded receive buffer that gives connections back-pressure."""

from __future__ import annotations

import asyncio

from hull.cri.streaming.inbox import Inbox


def test_room_closes_at_the_limit_and_reopens_when_read():
    async def scenario():
        box = Inbox(limit=10)
        box.put(b"12345")
        await asyncio.wait_for(box.room(), 1)          # below the limit
        box.put(b"67890")
        waiting = asyncio.ensure_future(box.room())
        await asyncio.sleep(0)
        blocked = not waiting.done()
        first = await box.get()
        await asyncio.wait_for(waiting, 1)
        box.close()
        rest = await box.get()
        end = await box.get()
        box.put(b"late")
        return blocked, first, rest, end, await box.get()

    blocked, first, rest, end, after = asyncio.run(scenario())
    assert blocked
    assert (first, rest, end, after) == (b"12345", b"67890", b"", b"")
