"""``hull doctor``: the checks hulld runs before it starts, printed."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="check that this machine can run hulld")
    p.add_argument("--config", help="hulld's TOML config file")
    p.set_defaults(func=run)


def run(args) -> int:
    from hull.cri import checks, config as cfg

    config = cfg.load(getattr(args, "config", None))
    if config.runtimes:
        cfg.finish(config)
    results = checks.run(config)
    width = max(len(c.name) for c in results)
    for c in results:
        mark = "ok" if c.ok else ("FAIL" if c.required else "warn")
        print(f"{mark:4}  {c.name:<{width}}  {c.detail}")
    failed = checks.failures(results)
    print("hulld can start" if not failed else f"hulld cannot start: {len(failed)} problem(s)")
    return 1 if failed else 0
