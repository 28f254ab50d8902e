"""GetContainerEvents: a server stream of lifecycle events."""

from __future__ import annotations

from hull._generated import api_pb2 as api


async def stream(d, request: api.GetEventsRequest, ctx):
    queue = d.events.subscribe()
    try:
        while True:
            yield await queue.get()
    finally:
        d.events.unsubscribe(queue)
