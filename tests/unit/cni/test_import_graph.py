"""The plugins run once per pod under ``python -IS``: stdlib only, and none of
the heavy modules (subprocess, dataclasses, ipaddress, asyncio, logging)."""

import os
import subprocess
import sys

import pytest

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "src")
HEAVY = {"subprocess", "dataclasses", "ipaddress", "asyncio", "logging", "inspect", "grpc", "yaml", "ctypes",
         "json", "re", "enum", "socket", "threading", "selectors",
         "hull.sys.ffi"}   # ten C types; netns binds its one function itself


@pytest.mark.parametrize("plugin", ["bridge", "host_local", "portmap", "loopback"])
def test_plugin_import_graph_is_small_and_stdlib_only(plugin):
    code = (f"import sys; sys.path.insert(0, {os.path.abspath(SRC)!r}); "
            f"import hull.cni.plugins.{plugin} as p, hull.cni.skeleton; p.main; "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    modules = set(out.stdout.split())
    assert not modules & HEAVY, modules & HEAVY
    assert not {m for m in modules if m.startswith("hull.cni.runtime") or m.startswith("hull.cli")}
