"""The id-prefix/label filter and the paging shared by the List*/Stream* RPCs."""

from __future__ import annotations

from types import SimpleNamespace

from hull._generated import api_pb2 as api
from hull.cri import listing


def _record(id_, **labels):
    return SimpleNamespace(id=id_, config=SimpleNamespace(labels=labels))


RECORDS = [_record("abc1", app="web"), _record("abd2", app="db"), _record("xyz3", app="web")]


def test_select_by_id_prefix_and_labels():
    f = api.ContainerFilter(id="ab", label_selector={"app": "web"})
    assert [r.id for r in listing.select(RECORDS, f)] == ["abc1"]
    assert [r.id for r in listing.select(RECORDS, api.PodSandboxFilter())] == \
        ["abc1", "abd2", "xyz3"]


def test_refresh_runs_only_for_matching_records():
    refreshed = []
    f = api.ContainerStatsFilter(label_selector={"app": "web"})
    chosen = list(listing.select(RECORDS, f, lambda r: refreshed.append(r.id) or r))
    assert refreshed == ["abc1", "xyz3"] and [r.id for r in chosen] == refreshed


def test_pages_split_and_always_send_one():
    assert list(listing.pages([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(listing.pages([], 500)) == [[]]
