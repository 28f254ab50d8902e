"""The filter and paging that the List*/Stream* RPCs share.

Every CRI list filter names an id (matched as a prefix) and a label
selector; the state part differs per RPC and stays with the caller. Stream* answers in pages so that no
single message passes gRPC's size limit, and always sends at least one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from hull.cri import lifecycle
from hull.cri.convert import labels_match


def containers(d, f) -> Iterator:
    """The containers ``f`` selects (its pod, id prefix and labels), each
    refreshed so that an exit since the last look shows in its state."""
    found = d.store.containers(f.pod_sandbox_id) if f.pod_sandbox_id else d.store.containers()
    return select(found, f, lambda c: lifecycle.refresh(d, c))


def sandboxes(d, f) -> Iterator:
    """The sandboxes ``f`` selects (its id prefix and labels)."""
    return select(d.store.sandboxes(), f)


def select(records: Iterable, f, refresh: Callable | None = None) -> Iterator:
    """The ``records`` (sandboxes or containers) whose id starts with ``f.id``
    and whose labels carry ``f.label_selector``, each passed through
    ``refresh`` (only those that match, since refreshing may ask the runtime)."""
    for record in records:
        if f.id and not record.id.startswith(f.id):
            continue
        if not labels_match(record.config.labels, f.label_selector):
            continue
        yield refresh(record) if refresh else record


def pages(items: list, size: int) -> Iterator[list]:
    """``items`` in slices of ``size``; one empty slice when there are none."""
    for start in range(0, max(len(items), 1), size):
        yield items[start:start + size]
