"""The CRI area's hulld and pod helpers, reused (one hulld per session)."""

from __future__ import annotations

import asyncio

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
