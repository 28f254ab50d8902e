#!/usr/bin/env python3
"""Pull + unpack benchmark: hull vs skopeo copy + umoci unpack vs containerd's ctr pull.

Builds a multi-layer image (busybox, many small files, a few large random
files, a large compressible file; >= 200 MB unpacked) as an OCI layout,
pushes it with skopeo to a docker-registry on 127.0.0.1 (hull.testing.registry),
then, in one run, pulls and unpacks it with each tool RUNS times. Before
every run the tool's store is put on a fresh ext4 filesystem (see FreshFilesystem)
and the page cache dropped (``echo 3 > /proc/sys/vm/drop_caches``). containerd runs with its own root,
state and socket in a temp dir and is stopped by PID after.

    sudo .venv/bin/python bench/image_pull.py [--runs 3] [--small-files 12000]

Prints per-tool medians, min/max, throughput (unpacked MB/s) and the ratio
to hull (> 1 means hull is faster).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from hull.testing import busybox
from hull.testing import registry as kit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv/bin/python")


# --- the image ---------------------------------------------------------------

def _tar(entries) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def busybox_layer() -> bytes:
    with tempfile.TemporaryDirectory(prefix="hull-bench-bb-") as tmp:
        root = busybox.make_rootfs(Path(tmp) / "rootfs")
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for entry in sorted(root.iterdir()):
                tar.add(entry, arcname=entry.name)
        return out.getvalue()


def small_files_layer(count: int, rng: random.Random) -> list:
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
             for _ in range(2000)]
    entries = [("usr", None), ("usr/share", None)]
    for d in range(count // 100 + 1):
        entries.append((f"usr/share/pkg{d:03d}", None))
    for i in range(count):
        size = rng.choice((300, 1200, 4000, 9000, 20000))
        text = b" ".join(rng.choice(words) for _ in range(size // 6))[:size]
        entries.append((f"usr/share/pkg{i // 100:03d}/file{i:05d}.txt", text))
    return entries


def large_files_layer(sizes_mb: list[int], rng: random.Random) -> list:
    entries = [("opt", None)]
    for i, size in enumerate(sizes_mb):
        entries.append((f"opt/blob{i}.bin", rng.randbytes(size << 20)))
    return entries


def text_layer(size_mb: int, rng: random.Random) -> list:
    line = b"".join(b"log line %d: the quick brown fox jumps over the lazy dog\n" % i
                    for i in range(2000))
    data = (line * ((size_mb << 20) // len(line) + 1))[: size_mb << 20]
    return [("var", None), ("var/log", None), ("var/log/big.log", data)]


def _put(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs/sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_layout(layout: Path, small_files: int, single: bool = False) -> tuple[int, int]:
    """Returns (unpacked bytes, compressed bytes). ``single``: one big layer over busybox."""
    rng = random.Random(42)
    parts = [small_files_layer(small_files, rng), large_files_layer([40, 40, 30], rng),
             text_layer(60, rng)]
    if single:
        tars = [busybox_layer(), _tar([entry for part in parts for entry in part])]
    else:
        tars = [busybox_layer()] + [_tar(part) for part in parts]
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    layers, diff_ids = [], []
    for data in tars:
        blob = gzip.compress(data, compresslevel=6)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       **_put(layout, blob)})
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **_put(layout, json.dumps(config).encode())}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": layers}
    desc = {"mediaType": manifest["mediaType"], **_put(layout, json.dumps(manifest).encode()),
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    return sum(len(t) for t in tars), sum(layer["size"] for layer in layers)


# --- the contenders ------------------------------------------------------------

def drop_caches() -> None:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as e:
        print(f"warning: cannot drop caches: {e}", file=sys.stderr)


class FreshFilesystem:
    """A new ext4 (on a loop device over a sparse file) for each run.

    The machine's root ext4 has no journal: after a mass delete (clearing the
    previous run's store), file creation crawls for about a minute, which
    would punish whichever tool runs next. A fresh filesystem per run gives
    every tool the same clean start; the backing file is one big file, cheap
    to delete.
    """

    def __init__(self, path: Path, size: str = "3G"):
        self.path = path
        self.backing = path.with_name(path.name + ".img")
        self.backing.unlink(missing_ok=True)
        subprocess.run(["truncate", "-s", size, str(self.backing)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                        str(self.backing)], check=True)
        self.device = subprocess.run(["losetup", "--find", "--show", str(self.backing)],
                                     check=True, capture_output=True, text=True).stdout.strip()
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", self.device, str(path)], check=True)

    def close(self) -> None:
        if subprocess.run(["umount", "-R", str(self.path)], capture_output=True).returncode:
            # still busy (a process holding a file): detach it; the loop frees on last close
            subprocess.run(["umount", "-R", "-l", str(self.path)], capture_output=True)
        subprocess.run(["losetup", "-d", self.device], capture_output=True)
        self.backing.unlink(missing_ok=True)


def fresh(path: Path) -> Path:
    """Mount a fresh filesystem at path (recorded for cleanup)."""
    if path in MOUNTED:
        MOUNTED.pop(path).close()
    MOUNTED[path] = FreshFilesystem(path)
    return path


MOUNTED: dict[Path, FreshFilesystem] = {}


def timed(args: list[str], **kw) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, **kw)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return elapsed


def run_hull(work: Path, ref: str) -> float:
    root = fresh(work / "hull") / "store"
    drop_caches()
    return timed([PYTHON, "-m", "hull.cli.main", "--root", str(root), "pull", "-q", ref])


def run_skopeo_umoci(work: Path, ref: str) -> float:
    base = fresh(work / "skopeo")
    drop_caches()
    start = time.perf_counter()
    timed(["skopeo", "copy", "--quiet", "--insecure-policy", "--src-tls-verify=false",
           f"docker://{ref}", f"oci:{base / 'layout'}:bench"])
    timed(["umoci", "unpack", "--image", f"{base / 'layout'}:bench", str(base / "bundle")])
    return time.perf_counter() - start


class Containerd:
    def __init__(self, work: Path):
        self.base = fresh(work / "containerd")
        self.socket = self.base / "c.sock"
        config = self.base / "config.toml"
        config.write_text('version = 2\n'
                          f'root = "{self.base / "root"}"\nstate = "{self.base / "state"}"\n'
                          'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                          f'[grpc]\n  address = "{self.socket}"\n'
                          f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
                          f'[debug]\n  address = "{self.socket}.debug"\n')
        self.log = open(self.base / "containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start: see {self.base / 'containerd.log'}")
            time.sleep(0.05)

    def ctr(self, *args: str) -> list[str]:
        return ["ctr", "--address", str(self.socket), "--namespace", "hull-bench", *args]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        # containerd leaves its snapshot mounts to us: under the fresh fs, umount -R takes them
        MOUNTED.pop(self.base).close()


def run_containerd(work: Path, ref: str) -> float:
    daemon = Containerd(work)
    try:
        drop_caches()
        return timed(daemon.ctr("image", "pull", "--plain-http", "--snapshotter", "overlayfs",
                                ref))
    finally:
        daemon.stop()


CONTENDERS = {"hull": run_hull, "skopeo+umoci": run_skopeo_umoci, "containerd (ctr)": run_containerd}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small-files", type=int, default=12000)
    parser.add_argument("--only", action="append", choices=list(CONTENDERS))
    parser.add_argument("--single-layer", action="store_true",
                        help="one big layer over busybox instead of three")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root (drop_caches, overlay mounts, containerd)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="hull-bench-images-", dir="/var/tmp"))
    (work / "registry").mkdir()
    registry = kit.RegistryServer(workdir=work / "registry").start()
    try:
        print("building the image ...", flush=True)
        unpacked, compressed = build_layout(work / "layout", args.small_files,
                                            args.single_layer)
        ref = f"{registry.host}/bench/image:bench"
        kit.push_image(work / "layout", "bench", ref, registry=registry)
        shutil.rmtree(work / "layout")
        layers = 2 if args.single_layer else 4
        print(f"image: {layers} layers, {unpacked / 1e6:.0f} MB unpacked, {compressed / 1e6:.0f} MB "
              f"compressed, {args.small_files + 400} files; {args.runs} runs each\n", flush=True)
        results: dict[str, list[float]] = {name: [] for name in (args.only or CONTENDERS)}
        for _ in range(args.runs):  # interleaved, so drift hits everyone alike
            for name in results:
                results[name].append(CONTENDERS[name](work, ref))
                print(f"  {name:18s} {results[name][-1]:7.2f} s", flush=True)
        report(results, unpacked)
    finally:
        registry.stop()
        for filesystem in MOUNTED.values():
            filesystem.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def report(results: dict[str, list[float]], unpacked: int) -> None:
    hull_median = statistics.median(results["hull"]) if "hull" in results else None
    print(f"\n{'tool':18s} {'p50 s':>7s} {'p99 s':>7s} {'min s':>7s} {'MB/s':>7s} "
          f"{'time vs hull':>13s}")
    for name, times in results.items():
        median = statistics.median(times)
        ratio = f"{median / hull_median:.2f}x" if hull_median else "-"
        print(f"{name:18s} {median:7.2f} {percentile(times, 0.99):7.2f} {min(times):7.2f} "
              f"{unpacked / 1e6 / median:7.1f} {ratio:>13s}")
    if hull_median:
        others = [statistics.median(t) for n, t in results.items() if n != "hull"]
        if others:
            verdict = "meets" if hull_median <= min(others) else "misses"
            print(f"\nhull {verdict} the target (at least as fast as the fastest: "
                  f"{min(others):.2f} s median; MB/s = unpacked bytes / median time)")


if __name__ == "__main__":
    sys.exit(main())
