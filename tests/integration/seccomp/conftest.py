"""Run a python snippet in a fresh process under a seccomp filter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hull.sys import seccomp

PRELUDE = """
import os, sys
from hull.sys import libc, seccomp
prog = open(sys.argv[1], "rb").read()
libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
listener = seccomp.load_filter(prog, sys.argv[2:])
"""


@pytest.fixture
def run_filtered(tmp_path):
    def run(config: dict, code: str, prelude: str = PRELUDE) -> subprocess.CompletedProcess:
        path = tmp_path / "filter.bpf"
        path.write_bytes(seccomp.compile_filter(config))
        return subprocess.run([sys.executable, "-c", prelude + code, str(path),
                               *config.get("flags", [])],
                              capture_output=True, text=True, timeout=60)
    return run
