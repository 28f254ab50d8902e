"""The hull demo: a web server pod, its page on a persistent volume, kept alive by hull.

    python -m hull.play.demo [--keep]

Runs everything in a fresh root under /tmp with its own pod network, so it
touches nothing else on the machine, and removes it all at the end
(``--keep`` leaves the pod running and prints how to clean up).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
EXAMPLE = os.path.join(REPO, "examples", "web.yaml")
IMAGE = "hull.local/busybox:1"
HOST_PORT = 8080
NETWORK = {"HULL_POD_SUBNET": "10.89.254.0/24", "HULL_BRIDGE": "hull-demo0",
           "HULL_PORTMAP_TABLE": "hull-demo-portmap", "HULL_CGROUP_PARENT": "/hull-demo"}


class Demo:
    def __init__(self, root: str):
        self.root = root
        self.step_no = 0
        self.env = dict(os.environ, **NETWORK)
        self.hull = [os.path.join(os.path.dirname(sys.executable), "hull"), "--root", root]

    def step(self, title: str, why: str = "") -> None:
        self.step_no += 1
        bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
        print(f"\n{bold}{self.step_no}. {title}{plain}", flush=True)
        if why:
            for line in why.splitlines():
                print(f"   {line}", flush=True)

    def run(self, *args: str, show: bool = True, check: bool = True,
            only_from: str = "") -> str:
        """Run hull; show the command and its output (from the line starting ``only_from``)."""
        cmd = self.hull + list(args)
        if show:
            print(f"   $ hull {' '.join(args)}", flush=True)
        # shown output interleaves stderr with stdout in the order it was written
        proc = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.STDOUT if show else subprocess.PIPE)
        lines = proc.stdout.rstrip().splitlines()
        if only_from:
            start = next((i for i, line in enumerate(lines) if line.startswith(only_from)), 0)
            lines = (["..."] if start else []) + lines[start:]
        if show and lines:
            print("\n".join(f"     {line}" for line in lines), flush=True)
        if check and proc.returncode != 0:
            raise SystemExit(f"demo: `hull {' '.join(args)}` failed with exit code "
                             f"{proc.returncode}:\n{proc.stdout}{proc.stderr or ''}")
        return proc.stdout

    def pods(self) -> dict:
        return json.loads(self.run("get", "pods", "-o", "json", show=False))

    def web_status(self) -> dict:
        items = self.pods()["items"]
        return items[0]["status"]["containerStatuses"][0] if items else {}


def build_image(demo: Demo) -> None:
    from hull.testing.busybox import make_rootfs

    demo.step("Build a small image from busybox-static",
              "No registry is needed: the image is made from /bin/busybox and its applets.")
    work = tempfile.mkdtemp(prefix="hull-demo-img-", dir="/tmp")
    try:
        make_rootfs(os.path.join(work, "rootfs"))
        demo.run("image", "build-rootfs", os.path.join(work, "rootfs"), IMAGE, "--cmd", "/bin/sh",
                 "--env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    demo.run("images")


def play(demo: Demo) -> None:
    demo.step("Play examples/web.yaml",
              "The file holds a PersistentVolumeClaim, a ConfigMap and a Pod: an init container\n"
              "writes the page onto the claim, then busybox httpd serves it on hostPort "
              f"{HOST_PORT};\na liveness probe fetches the page every 2 s. hull starts hulld (its CRI "
              "server),\nhull-csi (storage) and its agent (restarts, probes) as needed.")
    start = time.monotonic()
    demo.run("play", EXAMPLE, "--wait", "--timeout", "120")
    print(f"   (ready in {time.monotonic() - start:.1f} s, daemons' start-up included)")
    demo.run("get", "pods", "-o", "wide")


def fetch(demo: Demo, title: str) -> None:
    demo.step(title, f"Through the hostPort: 127.0.0.1:{HOST_PORT} is forwarded into the pod.")
    url = f"http://127.0.0.1:{HOST_PORT}/"
    print(f"   $ curl {url}")
    for attempt in range(50):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                print(f"     {resp.read().decode().strip()}")
                return
        except OSError as e:
            if attempt == 49:
                raise SystemExit(f"demo: cannot fetch {url}: {e}")
            time.sleep(0.2)


def crash(demo: Demo) -> None:
    from hull._generated import api_pb2 as api
    from hull.play.daemons import Cri, Endpoints

    demo.step("Kill the web server process",
              "The pod's restartPolicy is Always: hull's agent sees the exit and starts the\n"
              "container again (the restart count goes up).")
    before = demo.web_status()
    cid = before["containerID"].split("://", 1)[1]
    cri = Cri(Endpoints.for_root(demo.root).socket)
    info = json.loads(cri.runtime.ContainerStatus(api.ContainerStatusRequest(
        container_id=cid, verbose=True), timeout=30).info["info"])
    cri.close()
    print(f"   $ kill -9 {info['pid']}      # httpd, as seen from the host")
    os.kill(info["pid"], 9)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = demo.web_status()
        if status.get("restartCount", 0) > before["restartCount"] and status.get("ready"):
            break
        time.sleep(0.2)
    else:
        raise SystemExit("demo: the pod did not restart within 60 s")
    demo.run("get", "pods")
    last = status.get("lastState", {}).get("terminated", {})
    print(f"   restart count {before['restartCount']} -> {status['restartCount']}; "
          f"the last instance ended with exit code {last.get('exitCode')} ({last.get('reason')})")
    demo.run("describe", "pod", "web", only_from="Events:")


def down(demo: Demo) -> None:
    demo.step("hull down",
              "Stops the pod (terminationGracePeriodSeconds), removes its sandbox, network and\n"
              "mounts. The claim is kept, so a second `hull play` finds the same page; add\n"
              "--volumes to delete it too (the demo does, to leave nothing behind).")
    demo.run("down", EXAMPLE, "--volumes")
    demo.run("get", "pods")


def cleanup(root: str) -> None:
    from hull.play import daemons

    ep = daemons.Endpoints.for_root(root)
    for name in ("agent", "hull-csi", "hulld"):
        daemons.stop_daemon(ep, name)
    subprocess.run(["ip", "link", "del", NETWORK["HULL_BRIDGE"]], capture_output=True)
    subprocess.run(["nft", "delete", "table", "ip", NETWORK["HULL_PORTMAP_TABLE"]],
                   capture_output=True)
    subprocess.run(["nft", "delete", "table", "ip6", NETWORK["HULL_PORTMAP_TABLE"]],
                   capture_output=True)
    daemons.remove_cgroup(NETWORK["HULL_CGROUP_PARENT"])
    shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the pod running at the end")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("demo: run as root (pods need namespaces, mounts and a bridge)", file=sys.stderr)
        return 1
    root = tempfile.mkdtemp(prefix="hull-demo-", dir="/tmp")
    os.chmod(root, 0o711)
    demo = Demo(root)
    print(f"hull demo: Kubernetes Pod YAML on one machine (state in {root})")
    ok = False
    try:
        build_image(demo)
        play(demo)
        fetch(demo, "Fetch the page")
        crash(demo)
        fetch(demo, "Fetch the page again: served by the restarted container")
        if not args.keep:
            down(demo)
        ok = True
    finally:
        if args.keep and ok:
            print(f"\nLeft running. Clean up with: HULL_ROOT={root} hull down {EXAMPLE} "
                  f"--volumes, then stop the daemons in {root}/play/*.pid")
        else:
            cleanup(root)
    print("\nDone: the pod, its network, its volume and the daemons the demo started are gone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
