"""The infra ("pause") root filesystem for pods that share a PID namespace.

No pause image exists on these machines (no registry), so hull ships its
pause as a tiny read-only root filesystem built at start-up from Debian's
static busybox: ``/pause`` is an ash script that sleeps forever, reaps the
orphans re-parented to it (``wait`` reaps any child) and exits on SIGTERM.
Its sleeper runs as ``/bin/busybox sleep`` so its process name is
"busybox", not "sleep": the pod's own ``pgrep sleep`` must not find it.
"""

from __future__ import annotations

import os
import shutil

from hull.errors import NotFound

BUSYBOX = "/bin/busybox"

PAUSE = """#!/bin/sh
trap 'exit 0' TERM INT
while :; do
  /bin/busybox sleep 2147483647 &
  wait $!
done
"""

DIRS = ("bin", "proc", "dev", "sys", "etc", "tmp", "run")


def ensure_rootfs(root: str) -> str:
    """Build (once) and return the pause rootfs under ``root``."""
    rootfs = os.path.join(root, "pause", "rootfs")
    try:
        with open(os.path.join(rootfs, "pause")) as f:
            if f.read() == PAUSE:
                return rootfs
    except FileNotFoundError:
        pass
    if not os.path.exists(BUSYBOX):
        raise NotFound(f"cannot build pause rootfs: {BUSYBOX} is missing (install busybox-static)")
    tmp = rootfs + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for d in DIRS:
        os.makedirs(os.path.join(tmp, d))
    shutil.copy2(BUSYBOX, os.path.join(tmp, "bin/busybox"))
    for applet in ("sh",):
        os.symlink("busybox", os.path.join(tmp, "bin", applet))
    with open(os.path.join(tmp, "pause"), "w") as f:
        f.write(PAUSE)
    os.chmod(os.path.join(tmp, "pause"), 0o755)
    for name in ("hostname", "hosts", "resolv.conf"):
        open(os.path.join(tmp, "etc", name), "w").close()
    shutil.rmtree(rootfs, ignore_errors=True)
    os.replace(tmp, rootfs)
    return rootfs
