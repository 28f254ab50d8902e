"""critest pkg/validate/runtime_info.go and status.go: [k8s.io] Runtime info."""

import pytest

from hull._generated import api_pb2 as api

pytestmark = pytest.mark.root


def test_runtime_should_return_version_info(suite):
    """runtime info: runtime should return version info [Conformance] (TestGetVersion)."""
    version = suite.rc.Version(api.VersionRequest(version="0.1.0"), timeout=10)
    assert version.version
    assert version.runtime_name
    assert version.runtime_version
    assert version.runtime_api_version


def test_runtime_should_return_runtime_conditions(suite):
    """runtime info: runtime should return runtime conditions [Conformance] (TestGetRuntimeStatus)."""
    status = suite.rc.Status(api.StatusRequest(verbose=False), timeout=10).status
    ready = {c.type for c in status.conditions if c.status}
    assert {"RuntimeReady", "NetworkReady"} <= ready, status
