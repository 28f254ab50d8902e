"""The public names and the import graph of hull.registry."""

from __future__ import annotations

import subprocess
import sys

import hull.registry


def test_exports():
    assert sorted(hull.registry.__all__) == [
        "BlobStream", "Credentials", "Descriptor", "Endpoint", "Platform", "Reference",
        "RegistryClient", "RegistryConfig", "Resolved", "RetryPolicy", "compute_digest",
        "parse", "parse_platform"]
    for name in hull.registry.__all__:
        assert getattr(hull.registry, name) is not None


def test_import_graph_stays_small():
    code = ("import sys, hull.registry; hull.registry.RegistryClient; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('hull'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert all(m.startswith(("hull.registry", "hull.errors", "hull.spec.image")) or
               m in ("hull", "hull.spec") for m in loaded), loaded
    heavy = subprocess.run([sys.executable, "-c", "import sys, hull.registry; "
                            "hull.registry.RegistryClient; hull.registry.BlobStream; "
                            "print([m for m in ('grpc', 'yaml', 'google.protobuf', 'zstandard') "
                            "if m in sys.modules])"], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert heavy == "[]"


def test_reference_alone_stays_cheap():
    code = ("import sys, hull.registry.reference; "
            "print(' '.join(m for m in ('ssl', 'http.client', 'hull.registry.client') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
