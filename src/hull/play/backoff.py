"""kubelet's crash-loop back-off.

The first restart is immediate; each further one waits ``base`` doubled per
crash (10 s, 20 s, 40 s ...) up to ``maximum`` (5 min). A container that
ran ``reset`` seconds (10 min) before exiting starts the sequence again.
``base`` is configurable (agent flag ``--backoff-base``) so tests need not wait.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 10.0
    maximum: float = 300.0
    reset: float = 600.0

    def delay(self, crashes: int) -> float:
        """Wait before the restart that follows the ``crashes``-th crash in a row (1-based)."""
        if crashes <= 1:
            return 0.0
        return min(self.maximum, self.base * (2 ** (crashes - 2)))

    def crashes_after(self, previous: int, ran_for: float) -> int:
        """The crash count after one more exit of a container that ran ``ran_for`` seconds."""
        return 1 if ran_for >= self.reset else previous + 1
