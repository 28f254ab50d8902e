"""``hulld``: the CRI server. Parses flags over the TOML config, checks the kernel, serves."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from hull import errors


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hulld", description="hull's CRI server (runtime.v1)")
    p.add_argument("--config", help="TOML config file")
    p.add_argument("--socket", help="unix socket to serve on (default /run/hull/hull.sock)")
    p.add_argument("--root", help="persistent state: images, cri.db (default /var/lib/hull)")
    p.add_argument("--state", help="run-time state: bundles, namespaces (default /run/hull)")
    p.add_argument("--cni-conf-dir", help="CNI network configs (default /etc/cni/net.d)")
    p.add_argument("--cni-bin-dir", action="append", help="CNI plugin dir (repeatable)")
    p.add_argument("--runtime-handler", action="append", default=[], metavar="NAME=PATH",
                   help="add a runtime handler (RuntimeClass) (repeatable)")
    p.add_argument("--default-runtime", help="handler for pods that name none")
    p.add_argument("--registries-conf", help="registry config shared with `hull pull`")
    p.add_argument("--cgroup-parent", help="cgroup for pods that name none (default /hull)")
    p.add_argument("--stream-address", help="streaming server address (default 127.0.0.1:0)")
    p.add_argument("--log-level", help="debug, info, warning, error (default info)")
    p.add_argument("--log-format", choices=["text", "json"], help="log line format")
    return p


def load_config(args):
    from hull.cri import config as cfg

    config = cfg.load(args.config)
    for flag, attr in (("socket", "socket"), ("root", "root"), ("state", "state"),
                       ("cni_conf_dir", "cni_conf_dir"), ("registries_conf", "registries_conf"),
                       ("log_level", "log_level"), ("log_format", "log_format"),
                       ("default_runtime", "default_runtime"),
                       ("cgroup_parent", "cgroup_parent"), ("stream_address", "stream_address")):
        value = getattr(args, flag)
        if value:
            setattr(config, attr, value)
    if args.cni_bin_dir:
        config.cni_bin_dirs = list(args.cni_bin_dir)
    for spec in args.runtime_handler:
        cfg.add_runtime_flag(config, spec)
    return cfg.finish(config)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": self.formatTime(record), "level": record.levelname.lower(),
               "logger": record.name, "msg": record.getMessage()}
        for key in ("rpc", "pod", "container"):
            if getattr(record, key, ""):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def setup_logging(level: str, fmt: str) -> None:
    from hull.cri.context import IdsFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(IdsFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(ids)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    logging.getLogger("grpc").setLevel(logging.WARNING)  # its debug lines drown ours


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args)
    except errors.HullError as e:
        print(f"hulld: {e}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    from hull.cri import checks

    failed = checks.failures(checks.run(config))
    if failed:
        for check in failed:
            print(f"hulld: cannot start: {check.name}: {check.detail}", file=sys.stderr)
        print("hulld: run `hull doctor` for every check", file=sys.stderr)
        return 1
    from hull.cri.server import serve

    try:
        asyncio.run(serve(config))
    except errors.HullError as e:
        print(f"hulld: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
