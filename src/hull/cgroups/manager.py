"""The interface every cgroup backend implements, and what they share.

A Manager owns one container's cgroup (one directory per v1 hierarchy, or
one cgroup2 directory). Life cycle: ``create()`` then ``apply(pid)`` and
``set(resources)`` at container creation; ``freeze``/``thaw`` for
pause/resume; ``stats()`` for events and the CRI; ``kill_all`` and
``destroy()`` at delete. ``save()`` returns a JSON-able dict that
``hull.cgroups.load_manager`` turns back into an equal manager.
"""

from __future__ import annotations

import posix   # not os: see hull.cgroups.files

from hull.errors import FailedPrecondition
from hull.sys import pathname


# signal.SIGKILL without importing signal (and with it enum: ~5 ms per container start)
SIGKILL = 9


class Manager:
    """Abstract cgroup manager; see ``hull.cgroups.v1`` and ``hull.cgroups.v2``."""

    version = 0

    def __init__(self, container_id: str) -> None:
        self.container_id = container_id

    # --- identity ---
    @property
    def paths(self) -> dict[str, str]:
        """Controller -> directory (v2: {"": dir})."""
        raise NotImplementedError

    @property
    def path(self) -> str:
        """The directory whose cgroup.procs lists the container's processes."""
        raise NotImplementedError

    def save(self) -> dict:
        raise NotImplementedError

    # --- life cycle ---
    def create(self) -> None:
        """Make the cgroup directories; repeating it is harmless."""
        raise NotImplementedError

    def apply(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup."""
        raise NotImplementedError

    def set(self, resources: dict) -> None:
        """Apply OCI ``linux.resources``; validates everything before writing."""
        raise NotImplementedError

    def destroy(self) -> None:
        """Remove the cgroup and any sub-cgroups; gone already is fine."""
        raise NotImplementedError

    # --- processes ---
    def pids(self) -> list[int]:
        """Every process in the cgroup, including sub-cgroups."""
        from hull.cgroups import files

        return files.procs(self.path)

    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def is_frozen(self) -> bool:
        raise NotImplementedError

    def can_freeze(self) -> bool:
        """Whether this cgroup has a freezer (v1 controller, v2 cgroup.freeze)."""
        raise NotImplementedError

    def stats(self) -> dict:
        """Usage counters in the shape documented in ``hull.cgroups.stats``."""
        raise NotImplementedError

    def exists(self) -> bool:
        return pathname.isdir(self.path)

    def kill_all(self, sig: int = SIGKILL) -> None:
        """Send ``sig`` to every process; frozen meanwhile so none can fork away.

        The cgroup is thawed afterwards, also when it was paused before and
        the signal is SIGKILL (a frozen process cannot die); other signals
        leave a paused cgroup paused, to be delivered on resume. A process
        that exits first is not an error.
        """
        if not self.exists():
            return
        # without a freezer, signal anyway: a fork race is better than no kill
        freezer = self.can_freeze()
        paused = freezer and self.is_frozen()
        if freezer and not paused:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    posix.kill(pid, sig)
                except ProcessLookupError:
                    continue
        finally:
            if freezer and (not paused or sig == SIGKILL):
                self.thaw()

    def _require(self, what: str) -> None:
        if not self.exists():
            raise FailedPrecondition(f"cannot {what} cgroup of container {self.container_id}: "
                                     f"{self.path} does not exist")
