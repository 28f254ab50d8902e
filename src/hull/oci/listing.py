"""``list`` and ``ps``: what runc prints for them, table or JSON."""

from __future__ import annotations

import os

from hull import errors
from hull.oci import jsonio
from hull.oci.state import Store


def container_states(store: Store) -> list[dict]:
    """runc's containerState for each container (spec state plus owner)."""
    out = []
    for container_id in store.ids():
        try:
            state = store.load(container_id)
        except errors.HullError:
            continue  # deleted under us
        item = state.spec_state()
        item["owner"] = _owner(state.dir)
        out.append(item)
    return out


def _owner(path: str) -> str:
    uid = os.stat(path).st_uid
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.split(":")
                if len(fields) > 2 and fields[2] == str(uid):
                    return fields[0]
    except OSError:
        pass
    return f"#{uid}"


def format_table(rows: list[list[str]]) -> str:
    """Go's tabwriter as runc configures it (minwidth 12, padding 3)."""
    if not rows:
        return ""
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"


def list_text(store: Store, fmt: str = "table", quiet: bool = False) -> str:
    states = container_states(store)
    if quiet:
        return "".join(f"{s['id']}\n" for s in states)
    if fmt == "json":
        return (jsonio.dumps(states) if states else "null") + "\n"
    if fmt != "table":
        raise errors.InvalidArgument(f"invalid format option {fmt!r} (want table or json)")
    rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    rows += [[s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]]
             for s in states]
    return format_table(rows)


def container_pids(store: Store, container_id: str) -> list[int]:
    state = store.load(container_id)
    status = state.status()
    manager = state.cgroup_manager()
    if manager is None:
        return [state.pid] if state.is_alive() else []
    if not status.can_ps():
        raise errors.FailedPrecondition(f"cannot ps container {container_id}: it is {status}")
    return sorted(manager.pids())


def ps_text(store: Store, container_id: str, fmt: str = "table",
            ps_args: list[str] = ()) -> str:
    """JSON: the pids. Table: ``ps ARGS`` (default -ef) filtered to our pids."""
    pids = container_pids(store, container_id)
    if fmt == "json":
        return jsonio.dumps(pids) + "\n"
    if fmt != "table":
        raise errors.InvalidArgument(f"invalid format option {fmt!r} (want table or json)")
    import subprocess

    args = list(ps_args) or ["-ef"]
    try:
        out = subprocess.run(["ps", *args], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise errors.Internal(f"cannot run ps {' '.join(args)}: {e}") from e
    lines = out.splitlines()
    if not lines:
        return ""
    header, body = lines[0], lines[1:]
    try:
        column = header.split().index("PID")
    except ValueError:
        raise errors.InvalidArgument(f"ps {' '.join(args)} prints no PID column") from None
    wanted = set(pids)
    kept = [line for line in body
            if len(line.split()) > column and line.split()[column].isdigit()
            and int(line.split()[column]) in wanted]
    return "\n".join([header, *kept]) + "\n"
