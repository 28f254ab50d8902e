"""Container lifecycle events for GetContainerEvents subscribers."""

from __future__ import annotations

import asyncio
import logging

from hull._generated import api_pb2 as api

log = logging.getLogger("hull.cri.events")

QUEUE_LIMIT = 1000


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue] = set()

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def publish(self, event: api.ContainerEventResponse) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stuck client loses events, not the daemon
                log.warning("event subscriber is not reading: dropped an event")
