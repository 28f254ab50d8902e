"""hull's CNI side: the runtime (libcni's role) and hull's own plugins.

``from hull.cni import CNI, Result`` gives the runtime hulld uses. The names
load lazily: the plugins (``hull.cni.plugins.*``) import this package on
every pod start and must not pay for the runtime's imports.
"""

from __future__ import annotations

__all__ = ["CNI", "Result", "NetworkConfigList", "PluginExec", "SubprocessExec", "load_network",
           "default_conflist", "ensure_default_config"]

_LAZY = {
    "CNI": "hull.cni.runtime",
    "Result": "hull.spec.cni",
    "NetworkConfigList": "hull.spec.cni",
    "PluginExec": "hull.cni.invoke",
    "SubprocessExec": "hull.cni.invoke",
    "load_network": "hull.cni.config",
    "default_conflist": "hull.cni.defaults",
    "ensure_default_config": "hull.cni.defaults",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hull.cni' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
