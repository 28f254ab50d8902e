"""When and how long to wait before trying a registry request again."""

from __future__ import annotations

import email.utils
import errno
import http.client
import random
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable

#: server answers worth another try: overload, gateways, rate limits
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_transient(error: BaseException) -> bool:
    """A dropped or timed-out connection, worth another try on the same host.

    Refused connections, unknown hosts and TLS verification failures are not:
    they will not heal in a second, and a mirror list should move on at once.
    """
    if isinstance(error, (ssl.SSLCertVerificationError, socket.gaierror, ConnectionRefusedError)):
        return False
    if isinstance(error, (http.client.IncompleteRead, http.client.RemoteDisconnected,
                          http.client.BadStatusLine, ConnectionResetError, ConnectionAbortedError,
                          BrokenPipeError, TimeoutError, socket.timeout)):
        return True
    if isinstance(error, ssl.SSLError):
        return "EOF" in str(error) or "reset" in str(error).lower()
    if isinstance(error, OSError):
        return error.errno in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT, errno.EHOSTUNREACH,
                               errno.ENETUNREACH, errno.ECONNABORTED)
    return False


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; ``sleep`` and ``random`` are injectable for tests."""

    attempts: int = 5               # tries in total, the first included
    initial: float = 0.2            # seconds before the second try
    multiplier: float = 2.0
    maximum: float = 10.0           # cap on one wait
    jitter: float = 0.2             # +- this fraction, so parallel pulls do not march in step
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after:
            hinted = parse_retry_after(retry_after, time.time())
            if hinted is not None:
                return min(hinted, self.maximum)
        base = min(self.initial * self.multiplier ** (attempt - 1), self.maximum)
        return max(0.0, base * (1 + self.jitter * (2 * self.random() - 1)))

    def wait(self, attempt: int, retry_after: str | None = None) -> None:
        self.sleep(self.delay(attempt, retry_after))


def parse_retry_after(value: str, now: float) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)
