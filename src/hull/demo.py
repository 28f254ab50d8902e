"""``python -m hull.demo`` (what ``scripts/demo`` runs): build a busybox
container bundle in a temporary directory, walk one container through
hull-runc's lifecycle while showing what happens, and clean up.

Needs root (namespaces, mounts, cgroups).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from hull.spec.runtime import default_config
from hull.testing.busybox import make_rootfs

CONTAINER = "hull-demo"
INSIDE = r"""#!/bin/sh
echo "  hostname : $(hostname)"
echo "  user     : $(id)"
echo "  pid 1    : $(cat /proc/1/cmdline | tr '\0' ' ')"
echo "  processes:"; ps -o pid,user,args | sed 's/^/    /'
echo "  mounts   :"; cut -d' ' -f1-3 /proc/mounts | sed 's/^/    /' | head -12
echo "  cgroup memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
exec sleep 30
"""


def hull_runc() -> list[str]:
    launcher = os.path.join(os.path.dirname(sys.executable), "hull-runc")
    if os.path.exists(launcher):
        return [launcher]
    return [sys.executable, "-c", "import sys; from hull.cli.runc import main; "
            "sys.exit(main(sys.argv[1:]))"]


def say(text: str) -> None:
    print(f"\033[1m{text}\033[0m" if sys.stdout.isatty() else text, flush=True)


def main() -> int:
    if os.geteuid() != 0:
        print("hull.demo needs root (namespaces, mounts, cgroups)", file=sys.stderr)
        return 1
    top = tempfile.mkdtemp(prefix="hull-demo-")
    root = os.path.join(top, "state")
    runtime = [*hull_runc(), "--root", root]
    try:
        return _walk_through(top, runtime)
    finally:
        subprocess.run([*runtime, "delete", "--force", CONTAINER], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(top, ignore_errors=True)
        say("cleaned up: container deleted, temporary bundle removed")


def _walk_through(top: str, runtime: list[str]) -> int:
    bundle = os.path.join(top, "bundle")
    os.mkdir(bundle)
    say(f"1. building a busybox root filesystem in {bundle}/rootfs")
    rootfs = make_rootfs(os.path.join(bundle, "rootfs"))
    (rootfs / "demo.sh").write_text(INSIDE)
    say("2. writing config.json: runc's default, running /demo.sh as pid 1")
    config = default_config()
    config["process"].update(terminal=False, args=["sh", "/demo.sh"])
    config["hostname"] = "hull-demo"
    config["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    say(f"3. hull-runc create {CONTAINER}: namespaces, mounts, cgroup; process waits")
    started = time.monotonic()
    subprocess.run([*runtime, "create", "--bundle", bundle, CONTAINER], check=True)
    created_ms = (time.monotonic() - started) * 1000
    state = json.loads(subprocess.run([*runtime, "state", CONTAINER], check=True,
                                      capture_output=True, text=True).stdout)
    say(f"   created in {created_ms:.0f} ms; state: status={state['status']} pid={state['pid']}")
    say(f"4. hull-runc start {CONTAINER}: the container's view of itself")
    subprocess.run([*runtime, "start", CONTAINER], check=True)
    time.sleep(0.5)
    say(f"5. hull-runc exec {CONTAINER} ps: a second process in the same namespaces")
    subprocess.run([*runtime, "exec", CONTAINER, "ps", "-o", "pid,args"], check=True)
    say("6. hull-runc list")
    subprocess.run([*runtime, "list"], check=True)
    say(f"7. hull-runc kill {CONTAINER} KILL, then delete")
    subprocess.run([*runtime, "kill", CONTAINER, "KILL"], check=True)
    for _ in range(100):
        out = subprocess.run([*runtime, "state", CONTAINER], capture_output=True, text=True)
        if json.loads(out.stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    subprocess.run([*runtime, "delete", CONTAINER], check=True)
    say("   deleted: no process, cgroup or mount of the container is left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
