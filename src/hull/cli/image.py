"""``hull pull|push|images|rmi`` and ``hull image ...``: thin shells over ImageStore."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import threading
import time

from hull import errors


def _store(args):
    from hull.images import ImageStore

    config = None
    if getattr(args, "registry_config", None) or getattr(args, "certs_dir", None):
        from hull.registry.config import RegistryConfig

        config = RegistryConfig.load(args.registry_config, certs_dir=args.certs_dir)
    return ImageStore(args.root, registry_config=config)


def _credentials(args):
    if not getattr(args, "creds", None):
        return None
    from hull.registry.credentials import Credentials

    user, sep, password = args.creds.partition(":")
    if not sep:
        raise errors.InvalidArgument("--creds must be USER:PASSWORD")
    return Credentials(username=user, password=password)


def _familiar(name: str) -> tuple[str, str]:
    """'docker.io/library/busybox:latest' -> ('busybox', 'latest')."""
    from hull.registry.reference import parse

    reference = parse(name)
    short = reference.with_tag(None).with_digest(None).familiar()
    return short, reference.tag or (reference.digest or "")


def _human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.3g}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1000
    return f"{size}"


def _age(created: str | None) -> str:
    if not created:
        return "N/A"
    try:
        moment = datetime.datetime.fromisoformat(created.replace("Z", "+00:00")[:32])
    except ValueError:
        return created
    seconds = (datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()
    for span, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400 * 7, "week"),
                       (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= span:
            n = int(seconds // span)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "Less than a minute ago"


# --- progress ----------------------------------------------------------------

class _Layer:
    def __init__(self, total: int):
        self.action, self.current, self.total = "Waiting", 0, total
        self.started = time.monotonic()
        self.finished: float | None = None


_ACTIONS = {"waiting": "Waiting", "exists": "Already exists", "downloading": "Downloading",
            "verifying": "Verifying Checksum", "done": "Pull complete", "failed": "Failed",
            "pushing": "Pushing", "uploaded": "Pushed", "exists-remote": "Layer already exists",
            "mounted": "Mounted from another repository"}
_FINAL = ("Already exists", "Pull complete", "Failed", "Pushed", "Layer already exists",
          "Mounted from another repository")


class ProgressPrinter:
    """docker-pull-like bars on a tty (redrawn in place), plain state lines otherwise."""

    BAR = 40

    def __init__(self, out, tty: bool):
        self.out, self.tty = out, tty
        self.layers: dict[str, _Layer] = {}
        self.lock = threading.Lock()
        self.drawn = 0
        self.last_draw = 0.0
        self.nothing_new = True

    def __call__(self, event) -> None:
        with self.lock:
            layer = self.layers.setdefault(event.id, _Layer(event.total))
            action = _ACTIONS.get(event.action, event.action.capitalize())
            if event.action == "exists" and layer.action == "Pushing":
                action = "Layer already exists"
            changed = action != layer.action
            if changed and action in ("Downloading", "Pushing"):
                layer.started = time.monotonic()  # speed counts from the first byte
            layer.action, layer.current = action, event.current
            layer.total = event.total or layer.total
            if event.action in ("downloading", "pushing", "uploaded", "done"):
                self.nothing_new = False
            if action in _FINAL and layer.finished is None:
                layer.finished = time.monotonic()
            if self.tty:
                now = time.monotonic()
                if changed or now - self.last_draw > 0.1:
                    self._draw()
                    self.last_draw = now
            elif changed and action not in ("Downloading", "Pushing"):
                self.out.write(self._plain(event.id, layer) + "\n")
                self.out.flush()

    def _plain(self, digest: str, layer: _Layer) -> str:
        text = f"{_short(digest)}: {layer.action}"
        if layer.action in ("Pull complete", "Pushed") and layer.finished:
            seconds = max(layer.finished - layer.started, 1e-3)
            text += (f" ({_human_size(layer.total)} in {seconds:.1f}s, "
                     f"{_human_size(layer.total / seconds)}/s)")
        return text

    def _line(self, digest: str, layer: _Layer) -> str:
        if layer.action not in ("Downloading", "Pushing") or not layer.total:
            return self._plain(digest, layer)
        fraction = min(1.0, layer.current / layer.total)
        filled = int(self.BAR * fraction)
        bar = "=" * filled + (">" if filled < self.BAR else "") + " " * (self.BAR - filled - 1)
        seconds = max(time.monotonic() - layer.started, 1e-3)
        return (f"{_short(digest)}: {layer.action} [{bar}] "
                f"{_human_size(layer.current)}/{_human_size(layer.total)} "
                f"{_human_size(layer.current / seconds)}/s")

    def _draw(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}A")
        for digest, layer in self.layers.items():
            self.out.write("\x1b[2K" + self._line(digest, layer) + "\n")
        self.drawn = len(self.layers)
        self.out.flush()

    def finish(self) -> None:
        with self.lock:
            if self.tty and self.layers:
                self._draw()


class _Quiet:
    nothing_new = False

    def __call__(self, event) -> None:
        pass

    def finish(self) -> None:
        pass


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def progress_printer(out, quiet: bool):
    if quiet:
        return _Quiet()
    return ProgressPrinter(out, out.isatty())


# --- commands ----------------------------------------------------------------

def cmd_pull(args) -> int:
    store = _store(args)
    printer = progress_printer(sys.stdout, args.quiet)
    image = store.pull(args.ref, credentials=_credentials(args), platform=args.platform,
                       progress=printer)
    printer.finish()
    if args.quiet:
        print(image.id)
    else:
        digest = next((d.split("@", 1)[1] for d in image.repo_digests), image.manifest_digest)
        print(f"Digest: {digest}")
        print(f"Status: Image is up to date for {args.ref}" if printer.nothing_new
              else f"Status: Downloaded newer image for {args.ref}")
    return 0


def cmd_push(args) -> int:
    store = _store(args)
    printer = progress_printer(sys.stdout, args.quiet)
    digest = store.push(args.ref, args.destination, credentials=_credentials(args),
                        progress=printer)
    printer.finish()
    print(f"{args.destination or args.ref}: digest: {digest}")
    return 0


def cmd_images(args) -> int:
    images = _store(args).list()
    if args.json:
        json.dump([_listing(i) for i in images], sys.stdout, indent=2)
        print()
        return 0
    if args.quiet:
        for image in images:
            print(image.id if args.no_trunc else image.short_id)
        return 0
    rows = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
    for image in images:
        names = [_familiar(t) for t in image.repo_tags] or [("<none>", "<none>")]
        for repo, tag in names:
            rows.append((repo, tag, image.id if args.no_trunc else image.short_id,
                         _age(image.created), _human_size(image.size)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def _listing(image) -> dict:
    return {"id": image.id, "repoTags": image.repo_tags, "repoDigests": image.repo_digests,
            "size": image.size, "created": image.created, "manifestDigest": image.manifest_digest}


def cmd_inspect(args) -> int:
    store = _store(args)
    found = [store.get(ref).to_dict() for ref in args.refs]
    json.dump(found, sys.stdout, indent=2)
    print()
    return 0


def cmd_rmi(args) -> int:
    store = _store(args)
    status = 0
    for ref in args.refs:
        try:
            store.remove(ref, missing_ok=args.force, prune=False)
            print(f"Untagged: {ref}")
        except errors.NotFound as e:
            print(f"hull: {e}", file=sys.stderr)
            status = 3
    report = store.gc(wait=False)
    for digest in report.removed_blobs:
        print(f"Deleted: {digest}")
    return status


def cmd_prune(args) -> int:
    report = _store(args).gc(dangling=True)
    if args.json:
        json.dump(report.__dict__, sys.stdout, indent=2)
        print()
        return 0
    for key in report.removed_snapshots:
        print(f"deleted snapshot: {key}")
    for digest in report.removed_blobs:
        print(f"deleted blob: {digest}")
    print(f"Total reclaimed space: {_human_size(report.reclaimed_bytes)}")
    return 0


def cmd_import(args) -> int:
    for image in _store(args).import_layout(args.source, args.name):
        print(f"Loaded image: {', '.join(image.repo_tags) or image.id}")
    return 0


def cmd_export(args) -> int:
    _store(args).export_layout(args.ref, args.destination, tag=args.tag)
    if args.destination != "-":
        print(f"Exported {args.ref} to {args.destination}", file=sys.stderr)
    return 0


def cmd_tag(args) -> int:
    _store(args).tag(args.source, args.target)
    return 0


def _kv_list(values: list[str], what: str) -> dict:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise errors.InvalidArgument(f"{what} {item!r} must be KEY=VALUE")
        out[key] = value
    return out


def build_config(args) -> dict:
    config: dict = {}
    if args.env:
        _kv_list(args.env, "--env")
        config["Env"] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         *args.env]
    if args.entrypoint is not None:
        config["Entrypoint"] = json.loads(args.entrypoint) if args.entrypoint.startswith("[") \
            else [args.entrypoint]
    if args.cmd is not None:
        config["Cmd"] = json.loads(args.cmd) if args.cmd.startswith("[") else ["/bin/sh", "-c", args.cmd]
    for key, value in (("WorkingDir", args.workdir), ("User", args.user),
                       ("StopSignal", args.stop_signal)):
        if value:
            config[key] = value
    if args.expose:
        config["ExposedPorts"] = {p if "/" in p else f"{p}/tcp": {} for p in args.expose}
    if args.volume:
        config["Volumes"] = {v: {} for v in args.volume}
    if args.label:
        config["Labels"] = _kv_list(args.label, "--label")
    return config


def cmd_build(args) -> int:
    directories = [args.directory] + list(args.layer or [])
    image = _store(args).build_rootfs(directories if len(directories) > 1 else args.directory,
                                      args.name, config=build_config(args))
    print(image.id)
    return 0


# --- registration --------------------------------------------------------------

def _registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--creds", help="USER:PASSWORD for the registry")
    parser.add_argument("--registry-config", help="registries.conf (env HULL_REGISTRIES_CONF)")
    parser.add_argument("--certs-dir", help="certs.d directory (env HULL_REGISTRY_CERTS_DIR)")


def _add_pull(sub) -> None:
    p = sub.add_parser("pull", help="pull an image from a registry")
    p.add_argument("ref")
    p.add_argument("--platform", default=None, help="os/arch[/variant], default the host's")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    _registry_options(p)
    p.set_defaults(func=cmd_pull)


def _add_push(sub) -> None:
    p = sub.add_parser("push", help="push an image to a registry")
    p.add_argument("ref")
    p.add_argument("destination", nargs="?", help="push under this reference instead")
    p.add_argument("-q", "--quiet", action="store_true")
    _registry_options(p)
    p.set_defaults(func=cmd_push)


def _add_list(sub, name: str) -> None:
    p = sub.add_parser(name, help="list images")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", help="only ids")
    p.add_argument("--no-trunc", action="store_true", help="full ids")
    p.set_defaults(func=cmd_images)


def _add_rmi(sub, name: str) -> None:
    p = sub.add_parser(name, help="remove images (untag by name, all names by id)")
    p.add_argument("refs", nargs="+")
    p.add_argument("-f", "--force", action="store_true", help="no error for unknown images")
    p.set_defaults(func=cmd_rmi)


def _add_build(sub) -> None:
    p = sub.add_parser("build-rootfs", help="make an image from a directory (no network)")
    p.add_argument("directory")
    p.add_argument("name")
    p.add_argument("--layer", action="append", help="another directory as a further layer")
    p.add_argument("--cmd", help='shell command, or a JSON list: \'["/bin/sh"]\'')
    p.add_argument("--entrypoint", help="path, or a JSON list")
    p.add_argument("--env", action="append", help="KEY=VALUE (repeatable)")
    p.add_argument("--workdir")
    p.add_argument("--user")
    p.add_argument("--expose", action="append", help="PORT[/PROTO] (repeatable)")
    p.add_argument("--volume", action="append", help="PATH (repeatable)")
    p.add_argument("--label", action="append", help="KEY=VALUE (repeatable)")
    p.add_argument("--stop-signal")
    p.set_defaults(func=cmd_build)


def register(subparsers) -> None:
    _add_pull(subparsers)
    _add_push(subparsers)
    _add_list(subparsers, "images")
    _add_rmi(subparsers, "rmi")
    image = subparsers.add_parser("image", help="manage images")
    sub = image.add_subparsers(dest="image_command", metavar="COMMAND")
    _add_list(sub, "ls")
    _add_rmi(sub, "rm")
    _add_pull(sub)
    _add_push(sub)
    _add_build(sub)
    p = sub.add_parser("inspect", help="show images as JSON")
    p.add_argument("refs", nargs="+")
    p.set_defaults(func=cmd_inspect)
    p = sub.add_parser("prune", help="remove dangling images, unused blobs and snapshots")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prune)
    p = sub.add_parser("import", help="import an OCI layout (directory or .tar)")
    p.add_argument("source")
    p.add_argument("name", nargs="?", help="name the image (default: from the layout)")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("export", help="export an image as an OCI layout (directory, .tar or -)")
    p.add_argument("ref")
    p.add_argument("destination")
    p.add_argument("--tag", help="ref.name in the layout (default: the image's tag)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("tag", help="add a name to an image")
    p.add_argument("source")
    p.add_argument("target")
    p.set_defaults(func=cmd_tag)
