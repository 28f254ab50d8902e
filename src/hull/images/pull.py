"""Pull: resolve the manifest, fetch the config, then every layer in parallel.

Layers run on a small thread pool (threads only: nothing here forks), each
streaming download -> content ingest + unpack (see hull.images.layers).
The image row and its names are written last, in one transaction, so an
interrupted pull leaves no image, only verified blobs and snapshots that
the next pull reuses (or GC removes).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from hull import errors
from hull.images.layers import Cancelled, LayerContext, ensure_layer
from hull.spec import image as spec

MAX_PARALLEL_LAYERS = 4


def fetch_small_blob(client, ref, descriptor: spec.Descriptor, raw_descriptor, limit: int) -> bytes:
    if descriptor.size > limit:
        raise errors.InvalidArgument(f"blob {descriptor.digest} is {descriptor.size} bytes, "
                                     f"over the {limit} byte limit for its kind")
    stream = client.fetch_blob(ref, raw_descriptor, offset=0)
    try:
        data = stream.read(descriptor.size + 1)
        while len(data) <= descriptor.size:
            more = stream.read(descriptor.size + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        if hasattr(stream, "close"):
            stream.close()
    if len(data) != descriptor.size:
        raise errors.InvalidArgument(f"blob {descriptor.digest} has {len(data)} bytes, "
                                     f"expected {descriptor.size} (truncated)")
    return data  # the digest is checked when the content store commits it


def pull_layers(ctx: LayerContext, client, ref, raw_layers: list, layers: list,
                diff_ids: list[str], chain_ids: list[str]) -> None:
    """Every layer ensured; on the first failure the others are cancelled and it is raised."""
    for layer in layers:
        ctx.report(layer.digest, "waiting", 0, layer.size)

    def one(i: int) -> None:
        def fetch(offset: int, raw=raw_layers[i]):
            return client.fetch_blob(ref, raw, offset=offset)
        parent = chain_ids[i - 1] if i else None
        try:
            ensure_layer(ctx, layers[i], diff_ids[i], chain_ids[i], parent, fetch)
        except BaseException:
            ctx.report(layers[i].digest, "failed", 0, layers[i].size)
            raise

    workers = max(1, min(MAX_PARALLEL_LAYERS, len(layers)))
    first_error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hull-pull") as pool:
        futures = [pool.submit(one, i) for i in range(len(layers))]
        try:
            for future in as_completed(futures):
                if future.cancelled():  # cancelled after the first failure: nothing to report
                    continue
                error = future.exception()
                if error is not None and (first_error is None
                                          or isinstance(first_error, Cancelled)):
                    first_error = error
                    _cancel(ctx, futures)
        except BaseException:  # Ctrl-C: stop the workers at their next chunk
            _cancel(ctx, futures)
            raise
    if first_error is not None:
        raise first_error


def _cancel(ctx: LayerContext, futures) -> None:
    ctx.cancel.set()
    for future in futures:
        future.cancel()


class Resolved:
    """What the registry client resolved, normalised into hull.spec.image types."""

    def __init__(self, raw):
        self.raw = raw
        self.manifest_digest = raw.manifest_digest
        self.manifest_bytes = raw.manifest
        self.media_type = spec.detect_media_type(raw.manifest,
                                                 getattr(raw, "manifest_media_type", "") or "")
        self.index_digest = getattr(raw, "index_digest", None)
        try:
            self.manifest = spec.parse_manifest(raw.manifest, self.media_type)
        except ValueError as e:
            raise errors.InvalidArgument(str(e)) from e
        self.raw_config = raw.config
        self.raw_layers = list(raw.layers)
        self.config = self.manifest.config
        self.layers = list(self.manifest.layers)


def check_config(config: dict, layers: list) -> list[str]:
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(layers):
        raise errors.InvalidArgument(f"the config lists {len(diff_ids)} diff_ids for "
                                     f"{len(layers)} layers")
    return diff_ids


def run_pull(store, ref, client, progress, cancel: threading.Event | None = None):
    """Returns (resolved, config bytes, config dict, chain ids), everything committed."""
    resolved = Resolved(client.resolve(ref))
    config_bytes = store.content_blob(resolved.config, lambda d: fetch_small_blob(
        client, resolved.raw, d, resolved.raw_config, 16 << 20))
    try:
        config = spec.parse_config(config_bytes)
    except ValueError as e:
        raise errors.InvalidArgument(str(e)) from e
    diff_ids = check_config(config, resolved.layers)
    chain_ids = spec.chain_ids(diff_ids)
    ctx = store.layer_context(progress, cancel)
    pull_layers(ctx, client, resolved.raw, resolved.raw_layers, resolved.layers, diff_ids, chain_ids)
    store.content.write_bytes(resolved.manifest_bytes, resolved.manifest_digest)
    index = getattr(resolved.raw, "index", None)
    if index and resolved.index_digest:
        store.content.write_bytes(index, resolved.index_digest)
    return resolved, config, chain_ids
