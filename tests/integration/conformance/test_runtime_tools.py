"""hull-runc against the OCI runtime-tools validation programs.

Every program that passes under runc on this machine, in this same run,
must pass under hull-runc (issue 2). runc's result is computed here, not
remembered, so the bar moves with the machine. conformance/README.md says
how the programs are built and judged; the build is cached, so only the
first run on a machine pays for Go.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(TOP / "conformance" / "runtime-tools"))

from rt_harness import execute  # noqa: E402

pytestmark = pytest.mark.root

HULL_RUNC = TOP / ".venv" / "bin" / "hull-runc"
RUNC = shutil.which("runc") or "/usr/bin/runc"
TIMEOUT = 90.0


@pytest.fixture(scope="module")
def build() -> Path:
    try:
        return execute.default_build()
    except execute.BuildUnavailable as e:
        if e.code == 2 and "no runtime-tools source tree" in str(e):
            pytest.skip(f"upstream validation sources are not on this machine: {e}")
        raise


@pytest.fixture(scope="module")
def suite_lock():
    lock = execute.acquire_lock()
    yield
    lock.close()


def _describe(result) -> str:
    lines = [f"{result.program}: {result.status} (exit {result.exit_code})"]
    lines += [f"    {line}" for line in result.failures[:10]]
    if not result.failures:
        lines += [f"    {line}" for line in result.stderr.strip().splitlines()[-3:]]
    return "\n".join(lines)


def _mounts(result) -> list[str]:
    return [note for note in result.leftovers if note.startswith("mount")]


def test_build_has_runtimetest_and_programs(build):
    assert (build / "bin" / "runtimetest").is_file()
    assert execute.programs_in(build, None), "the build produced no validation programs"
    assert list(build.glob("rootfs-*.tar.gz")), "no rootfs tarball for the bundles"


def test_hull_runc_passes_every_program_runc_passes(build, suite_lock):
    gap, bar, racy = [], [], []
    for program in execute.programs_in(build, None):
        reference = execute.run_program(build, program, RUNC, TIMEOUT)
        if reference.status != "pass":
            continue  # runc fails it here too: not part of the bar
        bar.append(program)
        ours = execute.run_program(build, program, str(HULL_RUNC), TIMEOUT)
        # A container left behind is always a fault; host mounts only when
        # runc left none (runc too leaves them when the container shares
        # the host mount namespace, as linux_ns_itype asks).
        kinds = ("container", "mount") if not _mounts(reference) else ("container",)
        leaked = [note for note in ours.leftovers if note.startswith(kinds)]
        if ours.status != "pass" or leaked:
            if not leaked and not execute.reference_is_steady(build, program, RUNC, TIMEOUT):
                racy.append(program)  # runc's pass was luck (e.g. pidfile kills a finished `true`)
                continue
            gap.append(_describe(ours) + (f"\n    left behind: {leaked}" if leaked else ""))
    assert bar, "runc passed no program: the harness, not hull-runc, is broken"
    assert len(racy) < len(bar), f"runc's passes all failed to repeat: {racy}"
    assert not gap, (f"{len(gap)} of the {len(bar)} programs runc passes fail under hull-runc:\n"
                     + "\n".join(gap))
