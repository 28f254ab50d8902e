"""Close streaming connections that carried nothing for a while (kubelet: 4 hours)."""

from __future__ import annotations

import asyncio
import time

IDLE_TIMEOUT = 4 * 3600.0


async def close_when_idle(conn, timeout: float) -> None:
    """Wait until ``conn.last_activity`` is ``timeout`` old, then ``await conn.close()``."""
    while True:
        left = conn.last_activity + timeout - time.monotonic()
        if left <= 0:
            await conn.close()
            return
        await asyncio.sleep(left)
