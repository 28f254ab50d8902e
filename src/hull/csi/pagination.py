"""ListVolumes / ListSnapshots pages.

A token is the decimal offset of the next entry in the listing's stable
order (creation order). csi-sanity expects exactly this shape: a token
that is not a number, or points past the end, is ABORTED (spec: "Invalid
starting_token"), and a volume deleted between pages shifts the rest up
rather than failing the walk.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

from hull.csi.errors import Aborted
from hull.errors import InvalidArgument

T = TypeVar("T")


def page(items: Sequence[T], max_entries: int, starting_token: str) -> tuple[list[T], str]:
    """The slice to return and the ``next_token`` ("" when this is the last page)."""
    if max_entries < 0:
        raise InvalidArgument(f"cannot list: max_entries {max_entries} is negative")
    start = 0
    if starting_token:
        try:
            start = int(starting_token)
        except ValueError:
            raise Aborted(f"cannot list: starting_token {starting_token!r} is not valid") from None
        if start < 0 or start > len(items):
            raise Aborted(f"cannot list: starting_token {starting_token!r} is past the "
                          f"end ({len(items)} entries)")
    end = len(items) if max_entries == 0 else min(len(items), start + max_entries)
    next_token = str(end) if end < len(items) else ""
    return list(items[start:end]), next_token
