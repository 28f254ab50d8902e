"""Loading network configuration from a conf dir, as libcni does.

The first file in lexical order among ``*.conflist``, ``*.conf`` and
``*.json`` wins; a ``.conf``/``.json`` holds one plugin and is wrapped into
a list. A file that fails to parse is an error naming that file (libcni
skips it silently; a silently ignored config is worse for a node).
"""

from __future__ import annotations

import json
import os

from hull.errors import InvalidArgument, NotFound, from_oserror
from hull.spec.cni import NetworkConfigList, conf_to_conflist, conflist_from_dict

EXTENSIONS = (".conflist", ".conf", ".json")


def config_files(conf_dir: str) -> list[str]:
    """Config files in ``conf_dir`` in the order libcni considers them."""
    try:
        names = sorted(os.listdir(conf_dir))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise from_oserror(e, f"cannot list CNI config dir {conf_dir}") from e
    return [os.path.join(conf_dir, n) for n in names
            if n.endswith(EXTENSIONS) and os.path.isfile(os.path.join(conf_dir, n))]


def load_file(path: str) -> NetworkConfigList:
    """Parse and validate one ``.conflist`` or ``.conf`` file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise from_oserror(e, f"cannot read CNI network config {path}") from e
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"cannot load CNI network config {path}: invalid JSON: {e}") from e
    if not path.endswith(".conflist"):
        data = conf_to_conflist(data, path)
        raw = json.dumps(data).encode()
    return conflist_from_dict(data, path, raw)


def load_network(conf_dir: str, name: str | None = None) -> NetworkConfigList:
    """The network hull uses: the first file, or the one named ``name``."""
    files = config_files(conf_dir)
    if not files:
        raise NotFound(f"cannot load CNI network config: no .conflist/.conf/.json in {conf_dir}")
    if name is None:
        return load_file(files[0])
    for path in files:
        net = load_file(path)
        if net.name == name:
            return net
    raise NotFound(f"cannot load CNI network {name}: not in {conf_dir}")


def dir_signature(conf_dir: str) -> tuple:
    """Changes whenever a config file is added, removed or rewritten."""
    sig = []
    for path in config_files(conf_dir):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        sig.append((path, st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(sig)
