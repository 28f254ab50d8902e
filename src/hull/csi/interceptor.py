"""The one place hull.errors categories become gRPC status codes.

Every call is logged once with its method, outcome and duration; request
bodies are not logged (they may carry secrets). Foreign exceptions are
bugs or unexpected kernel answers: INTERNAL, with the traceback in the log.
"""

from __future__ import annotations

import logging
import time

import grpc

from hull import errors

log = logging.getLogger("hull.csi.calls")


def _code(error: errors.HullError) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, error.grpc_code, grpc.StatusCode.UNKNOWN)


# request fields worth naming in the log line (never secrets or contexts)
_ID_FIELDS = ("volume_id", "name", "snapshot_id", "source_volume_id", "group_snapshot_id",
              "node_id", "staging_target_path", "target_path")


def _ids(request) -> str:
    parts = []
    for name in _ID_FIELDS:
        value = getattr(request, name, "")
        if value and isinstance(value, str):
            parts.append(f"{name}={value}")
    return " ".join(parts)


def _wrap(method: str, behavior):
    short = method.rsplit("/", 1)[-1]

    def handler(request, context):
        start = time.monotonic()
        verbose = log.isEnabledFor(logging.INFO)
        method = f"{short} {_ids(request)}".strip() if verbose else short
        try:
            response = behavior(request, context)
        except errors.HullError as e:
            code = _code(e)
            log.info("%s -> %s: %s (%.1f ms)", method, code.name, e,
                     (time.monotonic() - start) * 1000)
            context.abort(code, str(e))
        except OSError as e:
            error = errors.from_oserror(e, f"cannot serve {method}")
            log.warning("%s -> %s: %s", method, _code(error).name, error, exc_info=True)
            context.abort(_code(error), str(error))
        except Exception as e:
            if isinstance(e, grpc.RpcError) or type(e).__name__ == "_AbortError":
                raise
            log.exception("%s -> INTERNAL", method)
            context.abort(grpc.StatusCode.INTERNAL, f"cannot serve {method}: {e!r}")
        if verbose:
            log.info("%s -> OK (%.1f ms)", method, (time.monotonic() - start) * 1000)
        return response
    return handler


class ErrorInterceptor(grpc.ServerInterceptor):
    def __init__(self):
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}  # built once per method

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            _wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
        self._wrapped[method] = wrapped
        return wrapped
