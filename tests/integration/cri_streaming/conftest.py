"""The CRI area's hulld and pod helpers, reused (one hulld per session)."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.integration.cri.conftest import hulld, pods  # noqa: F401 - fixtures

pytestmark = pytest.mark.root

TRANSPORTS = ["spdy", "ws"]


def run(coro, timeout: float = 90.0):
    """Drive one async client scenario to its end."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param


LOG_PROBLEMS = ("streaming connection failed", "Task exception was never retrieved",
                "Exception in callback", "was never awaited")


@pytest.fixture(autouse=True)
def streaming_log_stays_clean(hulld):  # noqa: F811 - the imported fixture
    """No streaming session may end in an unhandled exception inside hulld."""
    path = os.path.join(hulld.base, "hulld.log")
    start = os.path.getsize(path)
    yield
    with open(path, errors="replace") as f:
        f.seek(start)
        new = f.read()
    found = [p for p in LOG_PROBLEMS if p in new]
    assert not found, new[-3000:]
