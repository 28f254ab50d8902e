"""The CRI server's state: store, runtimes, images, network, events, locks.

RPC modules (``<object>_<verb>.py``) receive the Daemon and keep no state of
their own. Slow work (runtime calls, CNI, pulls, mounts) runs in the
daemon's thread pool through ``blocking`` so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from hull.cri import images as image_backend
from hull.cri.config import Config
from hull.cri.events import EventBus
from hull.cri.locks import KeyedLocks
from hull.cri.network import PodNetwork, open_cni
from hull.cri.oci_conmon import ConmonRuntime
from hull.cri.stats import CpuRates
from hull.cri.store import Store

log = logging.getLogger("hull.cri")

EXIT_POLL_SECONDS = 0.05


class Daemon:
    def __init__(self, config: Config, *, image_store=None):
        self.config = config
        for d in (config.root, config.state):
            os.makedirs(d, mode=0o711, exist_ok=True)
        self.store = Store(os.path.join(config.root, "cri"))
        self.runtimes = {name: ConmonRuntime(name, h.path, state_dir=config.state,
                                             conmon=config.conmon, args=h.args)
                         for name, h in config.runtimes.items()}
        self.images = image_store or image_backend.open_store(
            config.image_store, config.root,
            image_backend.load_registry_config(config.registries_conf))
        self.network = PodNetwork(open_cni(config.cni_conf_dir, config.cni_bin_dirs,
                                           os.path.join(config.state, "cni-cache")))
        self.events = EventBus()
        self.locks = KeyedLocks()
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="hull-cri")
        self.streaming = None
        self.cpu_rates = CpuRates()
        self.pod_cidr = ""
        self.oom_score_floor = _own_oom_score_adj()
        self._monitor: asyncio.Task | None = None

    # paths

    def sandbox_dir(self, sandbox_id: str) -> str:
        return os.path.join(self.config.state, "sandboxes", sandbox_id)

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.config.state, "containers", container_id)

    def runtime(self, name: str) -> ConmonRuntime:
        return self.runtimes[name or self.config.default_runtime]

    async def blocking(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    # background work

    def start_background(self) -> None:
        from hull.cri import lifecycle

        self._monitor = asyncio.get_running_loop().create_task(lifecycle.watch_exits(self))

    async def close(self) -> None:
        if self._monitor:
            self._monitor.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()


def _own_oom_score_adj() -> int:
    try:
        with open("/proc/self/oom_score_adj") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0
