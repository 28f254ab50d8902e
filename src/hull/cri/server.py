"""hulld's gRPC server on a unix socket (grpc.aio: one event loop, a thread pool for slow work)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import grpc

from hull.cri import service
from hull.cri.config import Config
from hull.cri.daemon import Daemon
from hull.cri.interceptor import ErrorInterceptor
from hull.cri.recover import recover

log = logging.getLogger("hull.cri")

MAX_MESSAGE = 16 << 20


def _streaming(d: Daemon, address: str):
    from hull.cri.streaming import StreamingServer

    return StreamingServer(d, address)


async def serve(config: Config, ready=None) -> None:
    d = Daemon(config)
    await d.blocking(recover, d)
    d.streaming = _streaming(d, config.stream_address)
    d.streaming.start()
    server = grpc.aio.server(interceptors=[ErrorInterceptor()],
                             options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                      ("grpc.max_send_message_length", MAX_MESSAGE)])
    service.add_to_server(server, d)
    os.makedirs(os.path.dirname(config.socket) or ".", exist_ok=True)
    try:
        os.unlink(config.socket)
    except FileNotFoundError:
        pass
    server.add_insecure_port(f"unix://{config.socket}")
    await server.start()
    os.chmod(config.socket, 0o660)
    d.start_background()
    log.info("hulld serving on %s (runtime %s, root %s, state %s)", config.socket,
             config.default_runtime, config.root, config.state)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready:
        ready()
    await stop.wait()
    log.info("hulld stopping; containers keep running under conmon")
    await server.stop(grace=2)
    d.streaming.stop()
    await d.close()
