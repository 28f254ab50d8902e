"""Pull from a real docker-registry: run what was pulled, reuse, concurrency, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hull import errors
from hull.images import ImageStore
from hull.testing import registry as kit

from .conftest import chroot, hull, mounted

pytestmark = pytest.mark.root


def blob_gets(proxy: kit.FaultProxy) -> list[str]:
    return [path for method, path, _ in proxy.requests if method == "GET" and "/blobs/" in path]


@pytest.fixture
def proxy(registry):
    fault_proxy = kit.FaultProxy(registry).start()
    yield fault_proxy
    fault_proxy.stop()


def test_pull_then_run_the_image(store, pushed, tmp_path):
    events = []
    image = store.pull(pushed, progress=events.append)
    assert image.repo_tags == [pushed]
    assert image.repo_digests[0].startswith(pushed.rsplit(":", 1)[0] + "@sha256:")
    assert len(image.chain_ids) == 3
    assert {e.action for e in events} >= {"waiting", "downloading", "done"}
    store.prepare_rootfs("hull-images-pull", image.id)
    with mounted(store, "hull-images-pull", tmp_path / "mnt") as root:
        assert "marker=hull-images" in chroot(root, "/bin/cat", "/etc/hull-image")
        assert not (root / "etc/hostname").exists()  # whited out by layer 2
        assert (root / "data/blob.bin").stat().st_size > 1_000_000
    store.remove_rootfs("hull-images-pull")
    assert store.runtime_spec(image)["process"]["env"][-1].startswith("HULL_IMAGE=")


def test_second_pull_downloads_nothing(store, pushed, registry, proxy):
    ref = pushed.replace(registry.host, proxy.host)
    store.pull(ref)
    first = len(blob_gets(proxy))
    assert first == 4  # config + 3 layers
    events = []
    store.pull(ref, progress=events.append)
    assert len(blob_gets(proxy)) == first
    assert {e.action for e in events if e.action != "waiting"} == {"exists"}


def test_concurrent_pulls_fetch_each_blob_once(tmp_path, pushed, registry, proxy):
    ref = pushed.replace(registry.host, proxy.host)
    root = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, "-m", "hull.cli.main", "--root", str(root),
                               "pull", "-q", ref], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert outputs[0][0] == outputs[1][0]
    # a fresh download of each blob once; a retry under load would resume with Range
    fresh = [path for method, path, headers in proxy.requests
             if method == "GET" and "/blobs/" in path
             and not any(key.lower() == "range" for key in headers)]
    assert len(fresh) == len(set(fresh)) == 4, fresh


def test_cut_connection_resumes_with_range(store, pushed, registry, proxy, source_layout):
    ref = pushed.replace(registry.host, proxy.host)
    manifest = json.loads(kit.layout_manifest(source_layout, "v1")[1])
    big = max(manifest["layers"], key=lambda layer: layer["size"])["digest"]
    proxy.add(kit.Fault(big, count=1, cut_after=1_000_000))
    image = store.pull(ref)
    assert store.content.exists(big) and len(image.chain_ids) == 3
    ranges = [h for m, p, h in proxy.requests if big in p and m == "GET"
              and any(k.lower() == "range" for k in h)]
    assert len(ranges) == 1


def test_tampered_layer_is_refused_and_store_unchanged(store, pushed, registry, proxy):
    ref = pushed.replace(registry.host, proxy.host)
    proxy.add(kit.Fault("/blobs/", count=100, tamper=True))
    with pytest.raises(errors.HullError) as info:
        store.pull(ref)
    message = str(info.value)
    assert message.startswith(f"cannot pull image {ref}:") and "\n" not in message
    assert "digest" in message
    assert store.list() == []
    assert store.meta.query("SELECT key FROM snapshots WHERE kind = 'committed'") == []
    assert store.dirs.ids_on_disk() == set()


@pytest.mark.parametrize("suffix,code,cause", [
    ("hull-images/missing:v1", 3, "unknown"),
])
def test_missing_manifest_cli(tmp_path, registry, suffix, code, cause):
    result = hull(tmp_path / "s", "pull", f"{registry.host}/{suffix}")
    assert result.returncode == code
    assert result.stderr.startswith(f"hull: cannot pull image {registry.host}/{suffix}:")
    assert cause in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert ImageStore(tmp_path / "s").list() == []


def test_unknown_registry_cli(tmp_path):
    result = hull(tmp_path / "s", "pull", "127.0.0.1:9/nothing/here:1")
    assert result.returncode != 0
    assert result.stderr.startswith("hull: cannot pull image 127.0.0.1:9/nothing/here:1:")
    assert len(result.stderr.strip().splitlines()) == 1


class SlowProxy:
    """Forwards to the registry, dribbling blob bodies so a pull can be killed midway."""

    def __init__(self, upstream: str, delay: float = 0.02):
        import http.client

        self.slow = True
        kit_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn = http.client.HTTPConnection(upstream, timeout=30)
                conn.request("GET", self.path, headers=headers)
                resp = conn.getresponse()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.end_headers()
                while chunk := resp.read(32 << 10):
                    try:
                        self.wfile.write(chunk)
                    except OSError:
                        break
                    if kit_self.slow and "/blobs/" in self.path:
                        time.sleep(delay)
                conn.close()

            do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_killed_pull_leaves_no_corrupt_blob_and_resumes(tmp_path, pushed, registry):
    slow = SlowProxy(registry.host)
    root = tmp_path / "killed"
    ref = pushed.replace(registry.host, slow.host)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "hull.cli.main", "--root", str(root),
                                 "pull", "-q", ref], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ingest = root / "content/ingest"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sizes = [f.stat().st_size for f in ingest.glob("sha256-*")] if ingest.exists() else []
            if any(size > 500_000 for size in sizes):
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = ImageStore(root)
        assert store.list() == []
        for digest in store.content.list():  # whatever is visible verifies
            data = store.content.read(digest)
            import hashlib
            assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
        partial = [f for f in ingest.glob("sha256-*") if f.stat().st_size > 0]
        assert partial, "the kill should have interrupted a layer download"
        assert store.meta.query("SELECT 1 FROM snapshots WHERE kind = 'committed' "
                                "AND id IN (SELECT id FROM snapshots WHERE kind = 'pending')") == []
        slow.slow = False
        image = store.pull(ref)
        assert len(image.chain_ids) == 3
        assert not any(f.stat().st_size for f in ingest.glob("sha256-*"))
    finally:
        slow.stop()


def test_cli_pull_plain_progress_and_listing(tmp_path, pushed):
    result = hull(tmp_path / "cli", "pull", pushed)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    complete = [line for line in lines if ": Pull complete (" in line]
    assert len(complete) == 3 and all("/s)" in line for line in complete)
    assert lines[-2].startswith("Digest: sha256:")
    assert lines[-1] == f"Status: Downloaded newer image for {pushed}"
    again = hull(tmp_path / "cli", "pull", pushed)
    assert again.stdout.count("Already exists") == 3
    assert again.stdout.splitlines()[-1] == f"Status: Image is up to date for {pushed}"
    listing = json.loads(hull(tmp_path / "cli", "images", "--json").stdout)
    assert listing[0]["repoTags"] == [pushed] and listing[0]["size"] > 6_000_000


def test_index_platform_selection(tmp_path, registry):
    layout = tmp_path / "multi"
    kit.build_image(layout, "amd", arch="amd64", marker="amd")
    kit.build_image(layout, "arm", arch="arm64", marker="arm")
    index_digest = kit.build_index(layout, "multi", {"linux/amd64": "amd", "linux/arm64": "arm"})
    ref = f"{registry.host}/hull-images/multi:1"
    kit.push_image(layout, "multi", ref, registry=registry, all_platforms=True)
    store = ImageStore(tmp_path / "s")
    amd = store.pull(ref)
    arm = store.pull(ref, platform="linux/arm64")
    assert amd.config["architecture"] == "amd64" and arm.config["architecture"] == "arm64"
    assert amd.index_digest == arm.index_digest == index_digest
    assert store.get(ref).id == arm.id  # the tag follows the last pull, as in docker
    name = ref.rsplit(":", 1)[0]
    assert store.get(f"{name}@{index_digest}").id == arm.id
    assert store.get(f"{name}@{amd.manifest_digest}").id == amd.id
    store.gc()
    assert store.content.exists(index_digest)
