"""OCI distribution client: references, registry config, credentials, auth, pull and push.

Public names::

    from hull.registry import parse, Reference, RegistryConfig, Endpoint, Credentials,
                              RegistryClient, Resolved, Descriptor, BlobStream

Names load on first use (PEP 562), so ``hull.registry.reference`` alone costs
only itself: parsing a reference must not pull in ssl and http.client.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BlobStream": "hull.registry.blob",
    "Credentials": "hull.registry.credentials",
    "Descriptor": "hull.registry.media",
    "Endpoint": "hull.registry.config",
    "Platform": "hull.registry.media",
    "Reference": "hull.registry.reference",
    "RegistryClient": "hull.registry.client",
    "RegistryConfig": "hull.registry.config",
    "Resolved": "hull.registry.client",
    "RetryPolicy": "hull.registry.retry",
    "compute_digest": "hull.registry.client",
    "parse": "hull.registry.reference",
    "parse_platform": "hull.registry.media",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hull.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
