"""The image store hulld uses, chosen by ``Config.image_store``."""

from __future__ import annotations

import importlib

from hull.errors import InvalidArgument, Unavailable


def open_store(spec: str, root: str, registry_config):
    """Instantiate ``module:Class`` as ImageStore(root, registry_config)."""
    module_name, _, attr = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr or "ImageStore")
    except ImportError as e:
        raise Unavailable(f"cannot open image store {spec}: {e}") from e
    except AttributeError as e:
        raise InvalidArgument(f"cannot open image store {spec}: no such class") from e
    return cls(root, registry_config)


def load_registry_config(path: str | None):
    try:
        from hull.registry.config import RegistryConfig
    except ImportError:
        return None
    return RegistryConfig.load(path)


def image_user_config(image) -> dict:
    """The image config's ``config`` section (Env, Entrypoint, Cmd, User ...)."""
    doc = getattr(image, "config", None) or {}
    if isinstance(doc, dict) and isinstance(doc.get("config"), dict):
        return doc["config"]
    return doc if isinstance(doc, dict) else {}
