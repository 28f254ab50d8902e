"""The play agent: the supervisor that keeps played pods to their spec.

    python -m hull.play.agent --root ROOT [--backoff-base 10] [--backoff-max 300]

`hull play` starts it when it is not running (one per root). It talks to
hulld and hull-csi over their sockets only, and keeps its state in
``<root>/play/play.db``: stopping it (SIGTERM, or a crash) leaves pods
running, and the next agent picks them up from the database and CRI.

One thread per pod runs ``PodWorker.sync`` until the pod is deleted (as
kubelet's pod workers do); the main thread starts workers for new rows.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from hull.play import daemons
from hull.play.backoff import Backoff
from hull.play.state import State
from hull.play.worker import PodWorker

log = logging.getLogger("hull.play.agent")
SCAN_INTERVAL = 0.05


class Agent:
    def __init__(self, root: str, backoff: Backoff):
        self.ep = daemons.Endpoints.for_root(root)
        self.root = self.ep.root
        self.backoff = backoff
        self.state = State(self.root)
        self.cri = daemons.Cri(self.ep.socket)
        self._csi = None
        self._csi_lock = threading.Lock()
        self.workers: dict[str, threading.Thread] = {}
        self.stopping = threading.Event()

    def csi(self):
        with self._csi_lock:
            if self._csi is None:
                self._csi = daemons.ensure_csi(self.ep, quiet=True)
            return self._csi

    def run(self) -> None:
        ready = os.path.join(self.ep.play_dir, "agent.ready")
        with open(f"{ready}.tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(f"{ready}.tmp", ready)
        log.info("agent %d supervising pods under %s", os.getpid(), self.root)
        while not self.stopping.is_set():
            for row in self.state.pods():
                worker = self.workers.get(row["key"])
                if worker is None or not worker.is_alive():
                    self._start_worker(row["key"])
            self.stopping.wait(SCAN_INTERVAL)
        for worker in self.workers.values():
            worker.join(timeout=5)

    def _start_worker(self, key: str) -> None:
        thread = threading.Thread(target=self._work, args=(key,), name=f"pod {key}", daemon=True)
        self.workers[key] = thread
        thread.start()

    def _work(self, key: str) -> None:
        state = State(self.root)
        worker = PodWorker(key, state, self.cri, self.csi, self.backoff)
        try:
            while not self.stopping.is_set():
                try:
                    if not worker.sync():
                        return
                except Exception:  # keep supervising; the next sync retries
                    log.exception("pod %s: sync failed", key)
                    worker.next_wake = time.time() + 1.0
                self._sleep_until(state, key, worker.next_wake)
        finally:
            state.close()

    def _sleep_until(self, state: State, key: str, wake: float) -> None:
        """Sleep until ``wake``, waking early when the pod is deleted or a container exits."""
        fingerprint = self._fingerprint(state, key)
        while not self.stopping.is_set() and time.time() < wake:
            self.stopping.wait(min(0.05, max(0.0, wake - time.time())))
            if self._fingerprint(state, key) != fingerprint or self._exit_seen(state, key):
                return

    @staticmethod
    def _fingerprint(state: State, key: str):
        row = state.pod(key)
        return None if row is None else row["desired"]

    def _exit_seen(self, state: State, key: str) -> bool:
        """A running container's exit file appeared (hulld's conmon writes it)."""
        for c in state.containers(key):
            if c["state"] == "running" and c["container_id"] and os.path.exists(
                    os.path.join(self.ep.state, "exits", c["container_id"])):
                return True
        return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hull.play.agent",
                                description="hull play's pod supervisor")
    p.add_argument("--root", required=True)
    p.add_argument("--backoff-base", type=float,
                   default=float(os.environ.get("HULL_PLAY_BACKOFF_BASE", "10")),
                   help="first crash-loop back-off in seconds (kubelet: 10)")
    p.add_argument("--backoff-max", type=float,
                   default=float(os.environ.get("HULL_PLAY_BACKOFF_MAX", "300")),
                   help="longest back-off in seconds (kubelet: 300)")
    p.add_argument("--log-level", default=os.environ.get("HULL_PLAY_LOG_LEVEL", "info"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("grpc").setLevel(logging.WARNING)
    agent = Agent(args.root, Backoff(args.backoff_base, args.backoff_max))
    signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stopping.set())
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
