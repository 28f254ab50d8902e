"""The one place hull errors become gRPC status codes, and every call is logged.

Handlers raise the categories of ``hull.errors``; this interceptor maps each
to its gRPC code (``HullError.grpc_code``) with the message as details. Any
other exception is a bug: INTERNAL, logged with its traceback.
"""

from __future__ import annotations

import logging
import time

import grpc

from hull.cri import context
from hull.errors import HullError

log = logging.getLogger("hull.cri")

# RPCs polled every few seconds by kubelet: logged at debug level only
QUIET = {"Version", "Status", "ListPodSandbox", "ListContainers", "ListImages", "ImageFsInfo",
         "ListContainerStats", "ListPodSandboxStats", "ImageStatus", "PodSandboxStatus",
         "ContainerStatus", "ListPodSandboxMetrics", "ListMetricDescriptors", "RuntimeConfig"}


def _status_of(err: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(err, HullError):
        return getattr(grpc.StatusCode, err.grpc_code, grpc.StatusCode.UNKNOWN), str(err)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(err).__name__}: {err}"


def _begin(method: str) -> tuple[str, float]:
    name = method.rsplit("/", 1)[-1]
    context.rpc_name.set(name)
    context.pod_id.set("")
    context.container_id.set("")
    return name, time.monotonic()


def _log_end(name: str, started: float, err: BaseException | None) -> None:
    ms = (time.monotonic() - started) * 1000
    if err is None:
        log.log(logging.DEBUG if name in QUIET else logging.INFO, "%s ok in %.1f ms", name, ms)
    elif isinstance(err, HullError):
        log.warning("%s failed in %.1f ms: %s: %s", name, ms, err.grpc_code, err)
    else:
        log.error("%s crashed in %.1f ms", name, ms, exc_info=err)


def _wrap_unary(behavior, method: str):
    async def wrapped(request, ctx):
        name, started = _begin(method)
        try:
            response = await behavior(request, ctx)
        except Exception as err:  # noqa: BLE001 - the one boundary
            _log_end(name, started, err)
            code, details = _status_of(err)
            await ctx.abort(code, details)
        _log_end(name, started, None)
        return response
    return wrapped


def _wrap_stream(behavior, method: str):
    async def wrapped(request, ctx):
        name, started = _begin(method)
        try:
            async for item in behavior(request, ctx):
                yield item
        except Exception as err:  # noqa: BLE001 - the one boundary
            _log_end(name, started, err)
            code, details = _status_of(err)
            await ctx.abort(code, details)
        _log_end(name, started, None)
    return wrapped


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:
            return None
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, details.method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, details.method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler
