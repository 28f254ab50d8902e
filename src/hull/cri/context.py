"""Ids carried through one RPC for logging (rpc, pod, container)."""

from __future__ import annotations

import contextvars
import logging

rpc_name: contextvars.ContextVar[str] = contextvars.ContextVar("rpc", default="")
pod_id: contextvars.ContextVar[str] = contextvars.ContextVar("pod", default="")
container_id: contextvars.ContextVar[str] = contextvars.ContextVar("container", default="")


class IdsFilter(logging.Filter):
    """Adds the current ids to every record (``%(ids)s`` in the format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = [f"{k}={v.get()}" for k, v in (("rpc", rpc_name), ("pod", pod_id),
                                                 ("container", container_id)) if v.get()]
        record.ids = " ".join(parts)
        record.rpc, record.pod, record.container = rpc_name.get(), pod_id.get(), container_id.get()
        return True


def set_pod(value: str) -> None:
    pod_id.set(value[:13])


def set_container(value: str) -> None:
    container_id.set(value[:13])
