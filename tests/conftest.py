"""Suite-wide rules.

Tests marked ``root`` need root and a real kernel; they are skipped, with
the reason, only when not running as root (CI and developer machines are
root). The whole run fails if any kernel object made during it outlives
it: mounts, netns, links, loop devices, cgroups, nft tables, processes.
"""

from __future__ import annotations

import os
import uuid

import pytest

from hull.testing import leaks

MARKER_ENV = "HULL_TEST_RUN"


def pytest_configure(config):
    os.environ.setdefault(MARKER_ENV, uuid.uuid4().hex)
    config._hull_leaks_before = leaks.take(os.environ[MARKER_ENV])


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_hull_leaks_before", None)
    if before is None:
        return
    report = leaks.leaked(before, leaks.take(os.environ[MARKER_ENV]))
    if report:
        lines = ["", "LEAK CHECK FAILED: the tests left these behind:"]
        for kind, items in report.items():
            lines.append(f"  {kind}:")
            lines.extend(f"    {item}" for item in items)
        print("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
