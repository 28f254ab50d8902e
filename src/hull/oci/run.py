"""``run``: create and start; unless detached, wait for the container's
process, pass our signals on to it, delete the container, and return its
exit code (as runc does)."""

from __future__ import annotations

from hull.oci.create import CreateOptions, create
from hull.oci.delete import delete
from hull.oci.execute import wait_forwarding_signals
from hull.oci.log import NULL, Log
from hull.oci.start import start
from hull.oci.state import Store


def run(store: Store, container_id: str, options: CreateOptions, *, detach: bool = False,
        keep: bool = False, subreaper: bool = True, log: Log = NULL) -> int:
    if not detach and subreaper:
        from hull.sys import ns

        ns.set_child_subreaper()  # the init is reparented to us once create's child exits
    proxy = None
    if not detach and not options.console_socket and _wants_terminal(options.bundle):
        from hull.oci.tty import ConsoleProxy

        proxy = ConsoleProxy()   # a person at a terminal: relay it, as runc does
        options.console_socket = proxy.path
    try:
        state = create(store, container_id, options, log)
        if proxy is not None:
            proxy.receive()
        start(store, container_id, log)
    except BaseException:
        if proxy is not None:
            proxy.close_listener()
        delete(store, container_id, force=True, log=log)
        raise
    if detach:
        return 0
    if proxy is not None:
        proxy.copy_until_exit(state.pid)
    code = wait_forwarding_signals(state.pid)
    if not keep:
        delete(store, container_id, force=True, log=log)
    return code


def _wants_terminal(bundle: str) -> bool:
    from hull.oci.bundle import read_config

    process = read_config(bundle, "cannot run").get("process") or {}
    return bool(process.get("terminal"))
