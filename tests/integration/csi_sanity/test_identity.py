"""csi-sanity identity.go: "Identity Service"."""

from __future__ import annotations

import re

import grpc
import pytest

from hull._generated import csi_pb2 as pb

pytestmark = pytest.mark.root

SERVICE = pb.PluginCapability.Service
EXPANSION = pb.PluginCapability.VolumeExpansion


def test_get_plugin_capabilities_should_return_appropriate_capabilities(sc):
    res = sc.driver.identity.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest())
    assert res is not None
    for cap in res.capabilities:
        kind = cap.WhichOneof("type")
        if kind == "service":
            assert cap.service.type in (SERVICE.CONTROLLER_SERVICE,
                                        SERVICE.VOLUME_ACCESSIBILITY_CONSTRAINTS,
                                        SERVICE.GROUP_CONTROLLER_SERVICE), \
                f"Unknown capability: {cap.service.type}"
        elif kind == "volume_expansion":
            assert cap.volume_expansion.type in (EXPANSION.ONLINE, EXPANSION.OFFLINE), \
                f"Unknown capability: {cap.volume_expansion.type}"
        else:
            pytest.fail(f"Unknown capability: {cap}")


def test_probe_should_return_appropriate_information(sc):
    try:
        res = sc.driver.identity.Probe(pb.ProbeRequest())
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:  # csi-sanity accepts OK or FailedPrecondition
        res, code = None, e.code()
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION)
    assert code == grpc.StatusCode.OK and res is not None, "Probe returned an error"
    if res.HasField("ready"):
        assert res.ready.value in (True, False)


def test_get_plugin_info_should_return_appropriate_information(sc):
    res = sc.driver.identity.GetPluginInfo(pb.GetPluginInfoRequest())
    assert res is not None
    assert len(res.name) > 0
    assert len(res.name) <= 63
    assert re.fullmatch(r"[a-zA-Z][A-Za-z0-9-\.\_]{0,61}[a-zA-Z]", res.name)
