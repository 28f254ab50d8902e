"""RPC name -> handler module; builds the gRPC servicers from the table.

Each handler is ``async (daemon, request, context)``; stream handlers are
async generators. Errors are mapped by ``interceptor.ErrorInterceptor``.
"""

from __future__ import annotations

import importlib

from hull._generated import api_pb2_grpc

# RPC -> (module, function)
RUNTIME_RPCS = {
    "Version": ("runtime_version", "handle"),
    "RunPodSandbox": ("sandbox_run", "handle"),
    "StopPodSandbox": ("sandbox_stop", "handle"),
    "RemovePodSandbox": ("sandbox_remove", "handle"),
    "PodSandboxStatus": ("sandbox_status", "handle"),
    "ListPodSandbox": ("sandbox_list", "handle"),
    "StreamPodSandboxes": ("sandbox_list", "stream"),
    "CreateContainer": ("container_create", "handle"),
    "StartContainer": ("container_start", "handle"),
    "StopContainer": ("container_stop", "handle"),
    "RemoveContainer": ("container_remove", "handle"),
    "ListContainers": ("container_list", "handle"),
    "StreamContainers": ("container_list", "stream"),
    "ContainerStatus": ("container_status", "handle"),
    "UpdateContainerResources": ("container_update_resources", "handle"),
    "ReopenContainerLog": ("container_reopen_log", "handle"),
    "ExecSync": ("container_exec_sync", "handle"),
    "Exec": ("container_exec", "handle"),
    "Attach": ("container_attach", "handle"),
    "PortForward": ("sandbox_port_forward", "handle"),
    "ContainerStats": ("container_stats", "handle"),
    "ListContainerStats": ("container_stats", "list_all"),
    "StreamContainerStats": ("container_stats", "stream"),
    "PodSandboxStats": ("sandbox_stats", "handle"),
    "ListPodSandboxStats": ("sandbox_stats", "list_all"),
    "StreamPodSandboxStats": ("sandbox_stats", "stream"),
    "UpdateRuntimeConfig": ("runtime_config", "update"),
    "Status": ("runtime_status", "handle"),
    "CheckpointContainer": ("container_checkpoint", "handle"),
    "GetContainerEvents": ("container_events", "stream"),
    "ListMetricDescriptors": ("sandbox_metrics", "descriptors"),
    "ListPodSandboxMetrics": ("sandbox_metrics", "handle"),
    "StreamPodSandboxMetrics": ("sandbox_metrics", "stream"),
    "RuntimeConfig": ("runtime_config", "handle"),
    "UpdatePodSandboxResources": ("sandbox_update_resources", "handle"),
}

IMAGE_RPCS = {
    "ListImages": ("image_list", "handle"),
    "StreamImages": ("image_list", "stream"),
    "ImageStatus": ("image_status", "handle"),
    "PullImage": ("image_pull", "handle"),
    "RemoveImage": ("image_remove", "handle"),
    "ImageFsInfo": ("image_fs_info", "handle"),
}


def _bind(daemon, module: str, function: str, streaming: bool):
    fn = getattr(importlib.import_module(f"hull.cri.{module}"), function)
    if streaming:
        async def stream(self, request, context):
            async for item in fn(daemon, request, context):
                yield item
        return stream

    async def unary(self, request, context):
        return await fn(daemon, request, context)
    return unary


def _servicer(base, table: dict, daemon, streams: set[str]):
    methods = {name: _bind(daemon, module, function, name in streams)
               for name, (module, function) in table.items()}
    return type(base.__name__.replace("Servicer", "Handlers"), (base,), methods)()


def streaming_rpcs() -> set[str]:
    from hull._generated import api_pb2

    found = set()
    for service in api_pb2.DESCRIPTOR.services_by_name.values():
        found |= {m.name for m in service.methods if m.server_streaming}
    return found


def add_to_server(server, daemon) -> None:
    streams = streaming_rpcs()
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(
        _servicer(api_pb2_grpc.RuntimeServiceServicer, RUNTIME_RPCS, daemon, streams), server)
    api_pb2_grpc.add_ImageServiceServicer_to_server(
        _servicer(api_pb2_grpc.ImageServiceServicer, IMAGE_RPCS, daemon, streams), server)
