"""Recording fakes for the CRI daemon's collaborators (no root, no kernel)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hull.cri.config import Config, RuntimeHandlerConfig
from hull.cri.runtime import ExecResult, Exit, Features


class FakeRuntime:
    """Records calls; containers 'exit' when killed (unless told to ignore a signal)."""

    def __init__(self, name: str = "fake"):
        self.name = name
        self.calls: list[tuple] = []
        self.exits: dict[str, Exit] = {}
        self.alive: set[str] = set()
        self.ignore_signals: set[int] = set()

    def create(self, request) -> int:
        self.calls.append(("create", request.container_id))
        self.alive.add(request.container_id)
        return 4242

    def start(self, container_id):
        self.calls.append(("start", container_id))

    def kill(self, container_id, signal, all_processes=False):
        self.calls.append(("kill", container_id, signal))
        if signal not in self.ignore_signals and container_id in self.alive:
            self.alive.discard(container_id)
            self.exits[container_id] = Exit(exit_code=128 + signal, finished_at=1)

    def delete(self, container_id):
        self.calls.append(("delete", container_id))
        self.alive.discard(container_id)

    def exit_status(self, container_id, bundle=""):
        return self.exits.get(container_id)

    def is_alive(self, container_id, pid=0):
        return container_id in self.alive

    def exec_sync(self, container_id, process, timeout):
        self.calls.append(("exec", container_id, tuple(process["args"])))
        return ExecResult(exit_code=0, stdout=b"ok\n")

    def update(self, container_id, resources):
        self.calls.append(("update", container_id, resources))

    def reopen_log(self, container_id, bundle):
        self.calls.append(("reopen", container_id))

    def features(self):
        return Features()


@dataclass
class FakeImage:
    id: str = "sha256:" + "ab" * 32
    repo_tags: list = field(default_factory=lambda: ["hull.test/fake:1"])
    repo_digests: list = field(default_factory=list)
    size: int = 100
    config: dict = field(default_factory=lambda: {"config": {"Cmd": ["/bin/sh"]}})


class FakeImages:
    def __init__(self, root: str):
        self.root = root
        self.calls: list[tuple] = []

    def get(self, ref):
        from hull.errors import NotFound

        if ref not in ("hull.test/fake:1", FakeImage().id):
            raise NotFound(f"cannot find image {ref}: no such image")
        return FakeImage()

    def list(self):
        return [FakeImage()]

    def remove_rootfs(self, key):
        self.calls.append(("remove_rootfs", key))

    def unmount_rootfs(self, target):
        self.calls.append(("unmount_rootfs", target))

    def usage(self):
        return {"path": self.root, "used_bytes": 1, "inodes_used": 1}


def make_daemon(tmp_path):
    from hull.cri.daemon import Daemon

    config = Config(root=str(tmp_path / "root"), state=str(tmp_path / "state"),
                    cni_conf_dir=str(tmp_path / "net.d"),
                    runtimes={"fake": RuntimeHandlerConfig("fake", "/bin/true")},
                    default_runtime="fake", conmon="/bin/true")
    d = Daemon(config, image_store=FakeImages(str(tmp_path / "root")))
    d.runtimes = {"fake": FakeRuntime()}
    os.makedirs(os.path.join(config.state, "exits"), exist_ok=True)
    return d
