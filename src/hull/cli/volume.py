"""``hull volume ...``: list, back up and restore hull-csi volumes.

    hull volume ls
    hull volume backup VOLUME_ID -o FILE|-
    hull volume restore VOLUME_ID -i FILE|-                  (into an existing, empty volume)
    hull volume restore --new NAME [--size BYTES] [--backend dir|loop] -i FILE|-

The commands open the driver's state under ``--csi-root`` (default
``<root>/csi``) directly; a new volume goes through the same
CreateVolume handler the gRPC server runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from hull import errors


def _driver(args):
    from hull.csi.driver import Config, Driver
    root = args.csi_root or os.path.join(args.root, "csi")
    if not os.path.exists(os.path.join(root, "state.db")):
        raise errors.NotFound(f"cannot open volumes: no hull-csi state under {root}")
    return Driver(Config(node_id=args.node_id or os.uname().nodename, root=root))


@contextlib.contextmanager
def _stream(path: str, mode: str):
    if path == "-":
        yield sys.stdout.buffer if "w" in mode else sys.stdin.buffer
        return
    if "w" in mode:
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            try:
                yield f
                f.flush()
                os.fsync(f.fileno())
            except BaseException:
                os.unlink(tmp)
                raise
        os.rename(tmp, path)
    else:
        with open(path, "rb") as f:
            yield f


def cmd_ls(args) -> int:
    driver = _driver(args)
    try:
        print(f"{'VOLUME ID':<40} {'NAME':<30} {'BACKEND':<8} {'SIZE':>12} {'FS':<5} "
              f"MUTABLE")
        for v in driver.state.volumes():
            mutable = ",".join(f"{k}={val}" for k, val in sorted(v.mutable.items())) or "-"
            print(f"{v.id:<40} {v.name[:30]:<30} {v.backend:<8} {v.capacity:>12} "
                  f"{v.fs_type or '-':<5} {mutable}")
    finally:
        driver.close()
    return 0


def cmd_backup(args) -> int:
    from hull.csi import backup
    driver = _driver(args)
    try:
        with _stream(args.output, "wb") as out:
            count = backup.backup(driver, args.volume_id, out)
    finally:
        driver.close()
    if args.output != "-":
        print(f"backed up {args.volume_id} to {args.output} ({count} entries)", file=sys.stderr)
    return 0


def _create(driver, name: str, size: int, backend: str, fs_type: str) -> str:
    from hull._generated import csi_pb2
    from hull.csi.controller import ControllerService
    mount = csi_pb2.VolumeCapability.MountVolume(fs_type=fs_type)
    cap = csi_pb2.VolumeCapability(mount=mount, access_mode=csi_pb2.VolumeCapability.AccessMode(
        mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER))
    request = csi_pb2.CreateVolumeRequest(name=name, volume_capabilities=[cap],
                                          parameters={"backend": backend})
    if size:
        request.capacity_range.required_bytes = size
    return ControllerService(driver).CreateVolume(request, None).volume.volume_id


def cmd_restore(args) -> int:
    from hull.csi import backup
    if bool(args.volume_id) == bool(args.new):
        raise errors.InvalidArgument("restore needs a VOLUME_ID or --new NAME (one of them)")
    driver = _driver(args)
    try:
        with _stream(args.input, "rb") as stream:
            tar, header = backup.read_header(stream)
            volume_id = args.volume_id
            if args.new:
                size = args.size or int(header.get("capacity", 0) or 0)
                volume_id = _create(driver, args.new, size,
                                    args.backend or header.get("backend") or "dir",
                                    header.get("fs_type", ""))
            count = backup.restore(driver, volume_id, tar)
    finally:
        driver.close()
    print(f"restored {count} entries into {volume_id}", file=sys.stderr)
    if args.new:
        print(volume_id)
    return 0


def register(subparsers) -> None:
    volume = subparsers.add_parser("volume", help="hull-csi volumes: ls, backup, restore")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--csi-root", help="hull-csi --root (default: <root>/csi)")
    common.add_argument("--node-id", help="node id the driver serves (default: hostname)")
    sub = volume.add_subparsers(dest="volume_command", metavar="COMMAND")

    ls = sub.add_parser("ls", parents=[common], help="list volumes")
    ls.set_defaults(func=cmd_ls)

    b = sub.add_parser("backup", parents=[common], help="write a volume's files as tar")
    b.add_argument("volume_id")
    b.add_argument("-o", "--output", required=True, help="FILE, or - for stdout")
    b.set_defaults(func=cmd_backup)

    r = sub.add_parser("restore", parents=[common], help="restore a tar into a volume")
    r.add_argument("volume_id", nargs="?", help="an existing, empty volume")
    r.add_argument("--new", metavar="NAME", help="create a new volume of this name")
    r.add_argument("--size", type=int, default=0, help="bytes for --new (default: as backed up)")
    r.add_argument("--backend", choices=("dir", "loop"), help="backend for --new")
    r.add_argument("-i", "--input", required=True, help="FILE, or - for stdin")
    r.set_defaults(func=cmd_restore)
