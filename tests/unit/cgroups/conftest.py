"""Fixtures for cgroup unit tests: a fake cgroup2 tree (see hull.cgroups.fake)."""

from __future__ import annotations

import pytest

from hull.cgroups.fake import FakeCgroup2


@pytest.fixture
def fake_v2(tmp_path, monkeypatch):
    """A fake cgroup2 mount: this machine's real one has no controllers."""
    return FakeCgroup2(str(tmp_path / "cgroup2")).install(monkeypatch)
