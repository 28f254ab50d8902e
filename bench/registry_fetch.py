"""Blob download throughput: hull's registry client against skopeo and containerd, side by side.

Starts a local docker-registry (hull.testing.registry), pushes an image with
a few large random layers and many small ones, then times fetching every blob
of it: hull (parallel streams, sha256 computed as the content store would, written to files)
`skopeo copy docker://... dir:` (which also verifies digests) and
`ctr content fetch` into a containerd started here with its own root (fresh
per round, stopped by PID after). Repeats each ROUNDS times and prints medians
and ratios. Loopback only.

    .venv/bin/python bench/registry_fetch.py [--mb 200] [--rounds 5] [--tls]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hull.registry import Credentials, RegistryClient, RegistryConfig
from hull.testing import registry as kit

USER, PASSWORD = "bench", "bench-pw"


def make_image(client: RegistryClient, target: str, total_mb: int) -> int:
    """Push a config and layers (4 big, 16 small) of random bytes; return the total size."""
    small = [os.urandom(256 << 10) for _ in range(16)]
    big = [os.urandom((total_mb * (1 << 20) - (4 << 20)) // 4) for _ in range(4)]
    layers = []
    for data in big + small:
        desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}
        client.push_blob(target, desc, lambda d=data: io.BytesIO(d))
        layers.append(desc)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}
                         }).encode()
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)}
    client.push_blob(target, config_desc, lambda: io.BytesIO(config))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config_desc, "layers": layers}).encode()
    client.push_manifest(target, "application/vnd.oci.image.manifest.v1+json", manifest)
    return sum(l["size"] for l in layers) + len(config)


def hull_fetch(config: RegistryConfig, target: str, creds, dest: Path) -> None:
    """Fetch, hash and write every blob to a file, as skopeo's dir: does."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    with RegistryClient(config, credentials=creds) as client:
        resolved = client.resolve(target)

        def one(desc):
            hasher = hashlib.sha256()
            with client.fetch_blob(resolved, desc) as stream, \
                    open(dest / desc.digest.split(":")[1], "wb") as out:
                for chunk in stream:
                    hasher.update(chunk)
                    out.write(chunk)
            assert "sha256:" + hasher.hexdigest() == desc.digest

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, [resolved.config, *resolved.layers]))


def skopeo_fetch(reg: kit.RegistryServer, target: str, dest: Path, creds: bool) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    args = ["skopeo", "copy", "--quiet", "--insecure-policy"]
    args += ["--src-cert-dir", str(reg.skopeo_cert_dir)] if reg.tls else ["--src-tls-verify=false"]
    if creds:
        args += ["--src-creds", f"{USER}:{PASSWORD}"]
    subprocess.run(args + [f"docker://{target}", f"dir:{dest}"], check=True)


class Containerd:
    """containerd with its own root and socket, content only (CRI plugin off)."""

    def __init__(self, base: Path):
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        self.base, self.socket = base, base / "c.sock"
        config = base / "config.toml"
        config.write_text('version = 2\n'
                          f'root = "{base / "root"}"\nstate = "{base / "state"}"\n'
                          'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                          f'[grpc]\n  address = "{self.socket}"\n'
                          f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
                          f'[debug]\n  address = "{self.socket}.debug"\n')
        self.log = open(base / "containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", str(config)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"containerd did not start: see {base / 'containerd.log'}")
            time.sleep(0.05)

    def fetch(self, reg: kit.RegistryServer, target: str, creds: bool) -> None:
        args = ["ctr", "--address", str(self.socket), "--namespace", "hull-bench",
                "content", "fetch", "--platform", "linux/amd64"]
        if reg.tls:  # ctr treats loopback as plain HTTP unless hosts.toml says https
            hosts = self.base / "hosts.d" / reg.host
            hosts.mkdir(parents=True, exist_ok=True)
            (hosts / "hosts.toml").write_text(
                f'server = "https://{reg.host}"\n[host."https://{reg.host}"]\n'
                f'  capabilities = ["pull", "resolve"]\n  ca = "{reg.ca.ca_cert}"\n')
            args += ["--hosts-dir", str(self.base / "hosts.d")]
        else:
            args.append("--plain-http")
        if creds:
            args += ["--user", f"{USER}:{PASSWORD}"]
        subprocess.run(args + [target], check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


def containerd_fetch(reg: kit.RegistryServer, target: str, base: Path, creds: bool) -> float:
    daemon = Containerd(base)
    try:
        return timed(lambda: daemon.fetch(reg, target, creds))
    finally:
        daemon.stop()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tls", action="store_true", help="TLS + basic auth registry")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hull-registry-bench-"))
    reg = kit.RegistryServer(tls=args.tls, users={USER: PASSWORD} if args.tls else None,
                             workdir=work / "registry")
    try:
        reg.start()
        creds = Credentials(USER, PASSWORD) if args.tls else None
        config = RegistryConfig([], certs_dir=reg.certs_dir)
        target = f"{reg.host}/bench/blobs:v1"
        with RegistryClient(config, credentials=creds) as client:
            total = make_image(client, target, args.mb)
        results = {"hull": [], "skopeo copy": [], "ctr fetch": []}
        for _ in range(args.rounds):
            results["hull"].append(timed(lambda: hull_fetch(config, target, creds, work / "hull")))
            results["skopeo copy"].append(timed(lambda: skopeo_fetch(reg, target, work / "dir",
                                                                     args.tls)))
            if shutil.which("containerd") and os.geteuid() == 0:
                results["ctr fetch"].append(containerd_fetch(reg, target, work / "containerd",
                                                             args.tls))
        results = {name: times for name, times in results.items() if times}
        mode = "https+basic" if args.tls else "http"
        print(f"blob fetch, {total / 1e6:.0f} MB in 21 blobs, {mode}, {args.rounds} rounds")
        print(f"{'tool':<12} {'median s':>9} {'min s':>7} {'max s':>7} {'MB/s':>8}")
        for name, times in results.items():
            med = statistics.median(times)
            print(f"{name:<12} {med:9.3f} {min(times):7.3f} {max(times):7.3f} {total / 1e6 / med:8.0f}")
        hull = statistics.median(results["hull"])
        for name, times in results.items():
            if name != "hull":
                print(f"hull is {statistics.median(times) / hull:.2f}x the speed of {name}")
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
