"""``hull play | down | get | describe | logs | exec``: Kubernetes Pod YAML on one machine.

    hull play FILE [--wait] [--timeout S]      run the file's Pods, ConfigMaps, Secrets, claims
    hull down FILE [--volumes]                 stop and remove them (claims kept unless --volumes)
    hull get pods [NAME...] [-o wide|json|yaml] [-n NS | -A]
    hull describe pod NAME [-n NS]
    hull logs NAME [-c C] [-f] [--previous] [--tail N] [--timestamps]
    hull exec [-i] [-t] NAME [-c C] -- CMD...
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from hull import errors


def register(sub) -> None:
    p = sub.add_parser("play", help="run the pods of a Kubernetes manifest")
    p.add_argument("file", help="YAML with Pod, PersistentVolumeClaim, ConfigMap, Secret")
    p.add_argument("--wait", action="store_true", help="return when every pod is Ready")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (default 300)")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("down", help="stop and remove what a manifest made")
    p.add_argument("file")
    p.add_argument("--volumes", action="store_true", help="also delete its claims' volumes")
    p.add_argument("--timeout", type=float, default=300.0)
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("get", help="list pods")
    p.add_argument("resource", choices=["pods", "pod", "po"])
    p.add_argument("names", nargs="*")
    p.add_argument("-o", "--output", choices=["wide", "json", "yaml", "name"])
    _namespace_flags(p)
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("describe", help="show a pod in detail, events included")
    p.add_argument("resource", choices=["pod", "pods", "po"])
    p.add_argument("name")
    _namespace_flags(p)
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("logs", help="print a container's log")
    p.add_argument("name")
    p.add_argument("-c", "--container")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-p", "--previous", action="store_true",
                   help="the previous (restarted) instance's log")
    p.add_argument("--tail", type=int, default=-1)
    p.add_argument("--timestamps", action="store_true")
    _namespace_flags(p)
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("exec", help="run a command in a pod's container")
    p.add_argument("-i", "--stdin", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-c", "--container")
    p.add_argument("name")
    p.add_argument("command", nargs=argparse.REMAINDER)
    _namespace_flags(p)
    p.set_defaults(func=cmd_exec)


def _namespace_flags(p) -> None:
    p.add_argument("-n", "--namespace", default="default")
    if "get" in p.prog:
        p.add_argument("-A", "--all-namespaces", action="store_true")


def _endpoints(args):
    from hull.play.daemons import Endpoints
    return Endpoints.for_root(args.root)


def cmd_play(args) -> int:
    from hull.play import apply, manifest

    m = manifest.load_file(args.file)
    for warning in m.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    if not m.pods and not m.claims and not m.config_maps and not m.secrets:
        raise errors.InvalidArgument(f"cannot play {args.file}: no Pod, PersistentVolumeClaim, "
                                     f"ConfigMap or Secret in it")
    result = apply.play(_endpoints(args), m, args.file, wait_ready=args.wait,
                        timeout=args.timeout)
    for c in m.config_maps:
        print(f"configmap/{c.name} created")
    for s in m.secrets:
        print(f"secret/{s.name} created")
    for c in m.claims:
        print(f"persistentvolumeclaim/{c.name} "
              f"{'created' if c.key in result.claims_created else 'bound to its existing volume'}")
    for key in result.pods:
        print(f"pod/{key.split('/', 1)[1]} {'ready' if args.wait else 'started'}")
    return 0


def cmd_down(args) -> int:
    from hull.play import apply, manifest

    m = None
    if os.path.exists(args.file):
        m = manifest.load_file(args.file)
    keys = apply.down(_endpoints(args), m, args.file, args.volumes, timeout=args.timeout)
    for key in keys:
        print(f"pod/{key.split('/', 1)[1]} deleted")
    if not keys:
        print(f"no pods from {args.file} are running")
    return 0


def _state(args):
    from hull.play.state import State, db_path
    if not os.path.exists(db_path(args.root)):
        return None
    state = State(args.root)
    _revive_agent(args, state)
    return state


def _revive_agent(args, state) -> None:
    """Pods without their supervisor are not kept alive: start it again (it resumes from disk)."""
    from hull.play import daemons
    if not state.pods():
        return
    ep = _endpoints(args)
    if daemons.agent_pid(ep) is None:
        daemons.say("the play agent is not running: starting it again (it picks up the pods "
                    "from its database)")
        daemons.ensure_agent(ep, quiet=True)


def cmd_get(args) -> int:
    from hull.play import show

    state = _state(args)
    namespace = None if args.all_namespaces else args.namespace
    rows = show.pod_rows(state, namespace, args.names) if state else []
    missing = [n for n in args.names if n not in {r["name"] for r, _ in rows}]
    if missing:
        raise errors.NotFound(f'pods "{missing[0]}" not found')
    if args.output in ("json", "yaml"):
        items = [show.pod_object(r, c) for r, c in rows]
        doc = items[0] if len(args.names) == 1 else \
            {"apiVersion": "v1", "kind": "List", "items": items}
        if args.output == "json":
            print(json.dumps(doc, indent=4))
        else:
            import yaml
            print(yaml.safe_dump(doc, sort_keys=False), end="")
        return 0
    if args.output == "name":
        for r, _ in rows:
            print(f"pod/{r['name']}")
        return 0
    if not rows:
        where = "any namespace" if args.all_namespaces else f"{args.namespace} namespace"
        print(f"No resources found in {where}.", file=sys.stderr)
        return 0
    print(show.table(rows, wide=args.output == "wide", all_namespaces=args.all_namespaces))
    return 0


def _pod(args):
    state = _state(args)
    row = state.pod(f"{args.namespace}/{args.name}") if state else None
    if row is None:
        raise errors.NotFound(f'pods "{args.name}" not found')
    return state, row


def cmd_describe(args) -> int:
    from hull.play import show

    state, row = _pod(args)
    print(show.describe(state, row, state.containers(row["key"])))
    return 0


def _container(state, row, name: str | None):
    containers = state.containers(row["key"])
    mains = [c for c in containers if not c["init"]]
    if name is None:
        if len(mains) > 1:
            print(f'Defaulted container "{mains[0]["name"]}" out of: '
                  f'{", ".join(c["name"] for c in containers)}', file=sys.stderr)
        return mains[0]
    for c in containers:
        if c["name"] == name:
            return c
    raise errors.NotFound(f"container {name} is not valid for pod {row['name']}")


def cmd_logs(args) -> int:
    from hull.play import logs
    from hull.play.state import Paths

    state, row = _pod(args)
    c = _container(state, row, args.container)
    attempt = c["restarts"] - (1 if args.previous else 0)
    if args.previous and not c["last_state"]:
        raise errors.FailedPrecondition(f'previous terminated container "{c["name"]}" in pod '
                                        f'"{row["name"]}" not found')
    path = os.path.join(Paths(args.root).log_dir(row["namespace"], row["name"], row["uid"]),
                        c["name"], f"{attempt}.log")
    if not os.path.exists(path):
        raise errors.FailedPrecondition(f'container "{c["name"]}" in pod "{row["name"]}" is '
                                        f"waiting to start: {c['reason'] or 'no log yet'}")
    out = sys.stdout.buffer
    try:
        _print_log(state, row, c, path, out, args)
    except BrokenPipeError:   # `hull logs -f web | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _print_log(state, row, c, path, out, args) -> None:
    from hull.play import logs
    if args.follow and not args.previous:
        def running() -> bool:
            now = state.containers(row["key"])
            return any(x["name"] == c["name"] and x["state"] == "running" and
                       x["restarts"] == c["restarts"] for x in now)
        logs.follow(path, out, running, args.timestamps, args.tail)
    else:
        logs.read(path, out, args.tail, args.timestamps)


def cmd_exec(args) -> int:
    from hull.play import execute

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise errors.InvalidArgument("cannot exec: no command given (hull exec NAME -- CMD)")
    state, row = _pod(args)
    c = _container(state, row, args.container)
    if not c["container_id"] or c["state"] != "running":
        raise errors.FailedPrecondition(f'cannot exec into container "{c["name"]}" of pod '
                                        f'"{row["name"]}": it is not running')
    return execute.run(_endpoints(args), c["container_id"], command, args.stdin, args.tty)
