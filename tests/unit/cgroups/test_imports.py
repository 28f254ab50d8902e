"""hull-runc imports hull.cgroups on every container start: keep it light.

A fresh interpreter (as the launcher runs it: -I -S) must not pull in the
heavy stdlib modules; each one costs milliseconds per container.
"""

from __future__ import annotations

import os
import subprocess
import sys

import hull

SRC = os.path.dirname(os.path.dirname(hull.__file__))
HEAVY = {"logging", "enum", "platform", "json", "re", "signal", "dataclasses", "subprocess",
         "threading", "typing"}


def loaded_after(statement: str) -> set[str]:
    code = (f"import sys; sys.path.insert(0, {SRC!r}); {statement}; "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True, check=True).stdout
    return set(out.split())


def test_cgroup_backends_import_no_heavy_modules():
    modules = loaded_after("import hull.cgroups, hull.cgroups.v1, hull.cgroups.v2, "
                           "hull.cgroups.stats, hull.cgroups.devices")
    assert modules & HEAVY == set()


def test_libseccomp_is_loaded_only_when_compiling():
    code = (f"import sys; sys.path.insert(0, {SRC!r}); from hull.sys import seccomp; "
            "print(open('/proc/self/maps').read().count('libseccomp'))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "0"
