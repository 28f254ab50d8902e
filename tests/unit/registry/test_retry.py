"""Backoff policy and which failures are worth retrying."""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import time

import pytest

from hull.registry.retry import RETRY_STATUSES, RetryPolicy, is_transient, parse_retry_after


def test_exponential_backoff_capped_without_jitter():
    policy = RetryPolicy(initial=0.5, multiplier=2, maximum=3, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]


@pytest.mark.parametrize("draw,expected", [(0.0, 0.8), (0.5, 1.0), (1.0, 1.2)])
def test_jitter_bounds(draw, expected):
    policy = RetryPolicy(initial=1, jitter=0.2, random=lambda: draw)
    assert policy.delay(1) == pytest.approx(expected)


def test_wait_uses_injected_sleep_and_retry_after():
    slept = []
    policy = RetryPolicy(initial=1, jitter=0, maximum=10, sleep=slept.append)
    policy.wait(2)
    policy.wait(1, retry_after="7")
    policy.wait(1, retry_after="3600")  # capped at maximum
    assert slept == [2, 7, 10]


def test_retry_after_http_date():
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now) == pytest.approx(30, abs=1.5)
    assert parse_retry_after("garbage", now) is None


@pytest.mark.parametrize("error,transient", [
    (ConnectionResetError(), True),
    (http.client.RemoteDisconnected(), True),
    (http.client.IncompleteRead(b""), True),
    (BrokenPipeError(), True),
    (socket.timeout(), True),
    (TimeoutError(), True),
    (ConnectionRefusedError(), False),
    (socket.gaierror(-2, "Name or service not known"), False),
    (ssl.SSLCertVerificationError("bad"), False),
    (ssl.SSLEOFError("EOF occurred in violation of protocol"), True),
    (ValueError("bug"), False),
])
def test_is_transient(error, transient):
    assert is_transient(error) is transient


def test_retry_statuses():
    assert {500, 502, 503, 504, 429} <= RETRY_STATUSES
    assert not {400, 401, 403, 404, 501} & RETRY_STATUSES
