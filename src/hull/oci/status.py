"""Container lifecycle status and the rules for which verb may act when.

A plain class rather than ``enum.Enum``: ``import enum`` costs about 3 ms,
a tenth of hull-runc's whole budget for a command. The members are
singletons compared with ``is`` and printed as their runtime-spec names.
"""

from __future__ import annotations


class Status:
    __slots__ = ("value",)

    CREATING: Status
    CREATED: Status
    RUNNING: Status
    PAUSED: Status
    STOPPED: Status

    def __init__(self, value: str):
        self.value = value

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Status.{self.value.upper()}"

    @classmethod
    def parse(cls, value: str) -> Status:
        for status in (cls.CREATING, cls.CREATED, cls.RUNNING, cls.PAUSED, cls.STOPPED):
            if status.value == value:
                return status
        raise ValueError(f"unknown status {value!r}")

    def can_start(self) -> bool:
        return self is Status.CREATED

    def can_kill(self) -> bool:
        # runc signals created (init blocked on the fifo) and paused containers too
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    def can_delete(self) -> bool:
        # a created container is deleted by killing its init, as runc does
        return self in (Status.CREATED, Status.STOPPED)

    def can_pause(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING)

    def can_resume(self) -> bool:
        return self is Status.PAUSED

    def can_exec(self, ignore_paused: bool = False) -> bool:
        allowed = (Status.CREATED, Status.RUNNING)
        return self in allowed or (ignore_paused and self is Status.PAUSED)

    def can_update(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    def can_ps(self) -> bool:
        return self is not Status.CREATING


Status.CREATING = Status("creating")
Status.CREATED = Status("created")
Status.RUNNING = Status("running")
Status.PAUSED = Status("paused")
Status.STOPPED = Status("stopped")
