"""Build and run the hull-csi gRPC server on a unix socket."""

from __future__ import annotations

import contextlib
import logging
import os
from concurrent import futures

import grpc

from hull._generated import csi_pb2_grpc
from hull.csi.controller import ControllerService
from hull.csi.driver import Config, Driver
from hull.csi.group_controller import GroupControllerService
from hull.csi.identity import IdentityService
from hull.csi.interceptor import ErrorInterceptor
from hull.csi.node import NodeService
from hull.errors import InvalidArgument

log = logging.getLogger(__name__)


def socket_path(endpoint: str) -> str:
    """``unix:///run/csi.sock`` or ``unix:/run/csi.sock`` or a bare path."""
    path = endpoint
    for prefix in ("unix://", "unix:"):
        if endpoint.startswith(prefix):
            path = endpoint[len(prefix):]
            break
    if not path.startswith("/"):
        raise InvalidArgument(f"cannot listen on {endpoint!r}: need unix://ABSOLUTE_PATH")
    return path


def build(driver: Driver, workers: int = 16) -> grpc.Server:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers,
                                                    thread_name_prefix="csi"),
                         interceptors=[ErrorInterceptor()])
    controller = ControllerService(driver)
    csi_pb2_grpc.add_IdentityServicer_to_server(IdentityService(driver), server)
    csi_pb2_grpc.add_ControllerServicer_to_server(controller, server)
    csi_pb2_grpc.add_GroupControllerServicer_to_server(
        GroupControllerService(driver, controller), server)
    csi_pb2_grpc.add_NodeServicer_to_server(NodeService(driver), server)
    return server


def serve(config: Config, endpoint: str, stop_event) -> None:
    """Serve until ``stop_event`` is set; the socket is removed on the way out."""
    path = socket_path(endpoint)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a stale socket from a killed predecessor
    driver = Driver(config)
    driver.recover()
    server = build(driver)
    server.add_insecure_port(f"unix://{path}")
    server.start()
    log.info("hull-csi serving node %s on %s (root %s)", config.node_id, path, config.root)
    try:
        stop_event.wait()
    finally:
        server.stop(grace=5).wait()
        driver.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
