"""Whole-lifecycle benchmark: create, start, wait, delete of /bin/true in a
busybox bundle, for hull-runc, runc and (where it runs) crun, interleaved
in one run so machine noise hits all of them alike.

    sudo .venv/bin/python bench/runtime_lifecycle.py [--runs 30]

Prints per runtime the median, p90 and p99 of the lifecycle and of each
step, and hull-runc's ratio to each peer. Needs root.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from hull.spec.runtime import default_config  # noqa: E402
from hull.testing.busybox import make_rootfs  # noqa: E402
from hull.oci import jsonio  # noqa: E402

STEPS = ("create", "start", "wait", "delete")


def make_bundle(top: str) -> str:
    bundle = os.path.join(top, "bundle")
    os.mkdir(bundle)
    make_rootfs(os.path.join(bundle, "rootfs"))
    config = default_config()
    config["process"].update(terminal=False, args=["/bin/true"])
    config["hostname"] = "bench"
    config["ociVersion"] = "1.0.2"   # the newest runc 1.1 and crun 1.8 accept
    with open(os.path.join(bundle, "config.json"), "w") as f:
        f.write(jsonio.dumps(config))
    return bundle


def lifecycle(runtime: list[str], root: str, bundle: str, container_id: str) -> dict:
    pid_file = os.path.join(root, f"{container_id}.pid")
    times = {}
    t0 = time.perf_counter()
    run(runtime, root, "create", "--bundle", bundle, "--pid-file", pid_file, container_id)
    t1 = time.perf_counter()
    with open(pid_file) as f:
        pidfd = os.pidfd_open(int(f.read()))
    run(runtime, root, "start", container_id)
    t2 = time.perf_counter()
    select.select([pidfd], [], [], 10)   # readable once the process has exited
    os.close(pidfd)
    t3 = time.perf_counter()
    run(runtime, root, "delete", container_id)
    t4 = time.perf_counter()
    os.unlink(pid_file)
    times.update(create=t1 - t0, start=t2 - t1, wait=t3 - t2, delete=t4 - t3, total=t4 - t0)
    return times


def run(runtime: list[str], root: str, *args: str) -> None:
    # not a pipe: the container's init inherits stdio and would hold it open
    with tempfile.TemporaryFile() as err:
        result = subprocess.run([*runtime, "--root", root, *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        if result.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{runtime[0]} {args[0]} failed: "
                               f"{err.read().decode(errors='replace').strip()}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def probe(runtime: list[str], root: str, bundle: str) -> str | None:
    """None if the runtime can run the lifecycle here, else why not."""
    if not shutil.which(runtime[0]):
        return "not installed"
    try:
        lifecycle(runtime, root, bundle, "probe")
    except RuntimeError as e:
        subprocess.run([*runtime, "--root", root, "delete", "-f", "probe"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return str(e).splitlines()[-1][:160]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    hull_runc = shutil.which("hull-runc") or os.path.join(
        os.path.dirname(__file__), "..", ".venv", "bin", "hull-runc")
    candidates = {"hull-runc": [hull_runc], "runc": ["runc"], "crun": ["crun"]}
    with tempfile.TemporaryDirectory(prefix="hull-oci-bench-") as top:
        bundle = make_bundle(top)
        roots, runtimes, skipped = {}, {}, {}
        # state roots on tmpfs, where runtimes keep them (/run/runc, /run/hull-runc)
        state_top = tempfile.mkdtemp(prefix="hull-oci-bench-", dir="/run")
        for name, command in candidates.items():
            roots[name] = os.path.join(state_top, f"root-{name}")
            why = probe(command, roots[name], bundle)
            if why is None:
                runtimes[name] = command
            else:
                skipped[name] = why
        results = {name: [] for name in runtimes}
        try:
            for i in range(args.runs):
                for name, command in runtimes.items():
                    results[name].append(lifecycle(command, roots[name], bundle, f"bench-{i}"))
        finally:
            shutil.rmtree(state_top, ignore_errors=True)
    report(results, skipped, args.runs)
    return 0


def report(results: dict, skipped: dict, runs: int) -> None:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"lifecycle of /bin/true in a busybox bundle, {runs} runs each (ms); "
          f"load average {load}")
    print(f"{'runtime':<10} {'step':<7} {'median':>8} {'p90':>8} {'p99':>8}")
    medians = {}
    for name, samples in results.items():
        for step in (*STEPS, "total"):
            values = [s[step] * 1000 for s in samples]
            median = statistics.median(values)
            medians[(name, step)] = median
            print(f"{name:<10} {step:<7} {median:8.1f} {percentile(values, .9):8.1f} "
                  f"{percentile(values, .99):8.1f}")
    for name, why in skipped.items():
        print(f"{name:<10} skipped: {why}")
    if "hull-runc" in results:
        for peer in results:
            if peer != "hull-runc":
                ratio = medians[("hull-runc", "total")] / medians[(peer, "total")]
                print(f"hull-runc / {peer} (median lifecycle): {ratio:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
