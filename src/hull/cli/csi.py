"""``hull-csi``: the CSI driver for node-local volumes (dir and loop).

    hull-csi --endpoint unix:///run/hull/csi.sock --node-id NODE --root /var/lib/hull/csi
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from hull import errors


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {"time": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hull-csi", description="hull's CSI driver for "
                                "node-local persistent volumes")
    p.add_argument("--endpoint", default=os.environ.get("CSI_ENDPOINT"),
                   help="unix://PATH to listen on (env CSI_ENDPOINT)")
    p.add_argument("--node-id", default=os.environ.get("HULL_NODE_ID") or os.uname().nodename,
                   help="this node's id (default: hostname)")
    p.add_argument("--root", default="/var/lib/hull/csi", help="state and volume directory")
    p.add_argument("--max-volumes-per-node", type=int, default=0,
                   help="attach limit reported by NodeGetInfo and enforced (0: none)")
    p.add_argument("--mutable-parameters", default="",
                   help="comma-separated parameters ControllerModifyVolume accepts, e.g. iops")
    p.add_argument("--default-backend", choices=("dir", "loop"), default="dir")
    p.add_argument("--allowed-root", action="append", default=[],
                   help="refuse staging/target paths outside these (repeatable)")
    p.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"))
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    return p


def _logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(args.log_level, args.log_format)
    if not args.endpoint:
        print("hull-csi: --endpoint (or CSI_ENDPOINT) is required", file=sys.stderr)
        return 2
    if not args.node_id or len(args.node_id.encode()) > 256:
        print("hull-csi: --node-id must be 1 to 256 bytes", file=sys.stderr)
        return 2
    if args.max_volumes_per_node < 0:
        print("hull-csi: --max-volumes-per-node must not be negative", file=sys.stderr)
        return 2
    from hull.csi.driver import Config
    from hull.csi.server import serve
    config = Config(
        node_id=args.node_id, root=os.path.abspath(args.root),
        max_volumes_per_node=args.max_volumes_per_node,
        mutable_parameters=tuple(p.strip() for p in args.mutable_parameters.split(",")
                                 if p.strip()),
        default_backend=args.default_backend,
        allowed_roots=tuple(os.path.realpath(r) for r in args.allowed_root))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve(config, args.endpoint, stop)
    except errors.HullError as e:
        print(f"hull-csi: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
