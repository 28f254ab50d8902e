"""The CSI Identity service: who we are, what we can do, are we ready."""

from __future__ import annotations

import os

from hull import __version__
from hull._generated import csi_pb2, csi_pb2_grpc
from hull.csi.driver import PLUGIN_NAME, Driver
from hull.errors import FailedPrecondition

Service = csi_pb2.PluginCapability.Service
Expansion = csi_pb2.PluginCapability.VolumeExpansion


class IdentityService(csi_pb2_grpc.IdentityServicer):
    def __init__(self, driver: Driver):
        self.driver = driver

    def GetPluginInfo(self, request, context):
        return csi_pb2.GetPluginInfoResponse(
            name=PLUGIN_NAME, vendor_version=__version__,
            manifest={"backends": "dir,loop", "node": self.driver.config.node_id})

    def GetPluginCapabilities(self, request, context):
        caps = [csi_pb2.PluginCapability(service=Service(type=t)) for t in (
            Service.CONTROLLER_SERVICE, Service.VOLUME_ACCESSIBILITY_CONSTRAINTS,
            Service.GROUP_CONTROLLER_SERVICE)]
        caps.append(csi_pb2.PluginCapability(volume_expansion=Expansion(type=Expansion.ONLINE)))
        return csi_pb2.GetPluginCapabilitiesResponse(capabilities=caps)

    def Probe(self, request, context):
        root = self.driver.config.root
        if not os.access(root, os.W_OK):
            raise FailedPrecondition(f"cannot serve: root {root} is not writable")
        self.driver.state.volumes()  # the database answers
        response = csi_pb2.ProbeResponse()
        response.ready.value = True
        return response
