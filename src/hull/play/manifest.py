"""Load a multi-document manifest into the model, checking it as the API server would.

Errors read like kubectl's::

    The Pod "web" is invalid: spec.containers[0].ports[1].hostPort: Invalid value: 70000: ...

Unknown fields and kinds are warnings (``unknown field "spec.containers[0].imagee"``),
as ``kubectl apply`` prints them; the rest of the document is still used.
"""

from __future__ import annotations

import base64
import binascii

import yaml

from hull import errors
from hull.play import quantity, schema, validate
from hull.play.model import (Claim, ConfigMap, Manifest, Pod, Secret, Source,
                             config_map_data)


def load_file(path: str) -> Manifest:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise errors.from_oserror(e, f"cannot read manifest {path}") from e
    return load_text(text, path)


def load_text(text: str, name: str = "<stdin>") -> Manifest:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise errors.InvalidArgument(f"cannot parse manifest {name}: {_yaml_problem(e)}") from e
    manifest = Manifest()
    problems: list[str] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        source = Source(name, index)
        try:
            _load_document(doc, source, manifest)
        except errors.InvalidArgument as e:
            problems.append(str(e))
    if problems:  # warnings first, as kubectl prints them before the error
        raise errors.InvalidArgument("\n".join([f"Warning: {w}" for w in manifest.warnings]
                                               + problems))
    _check_unique(manifest)
    return manifest


def _yaml_problem(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    if mark is not None:
        return f"line {mark.line + 1} column {mark.column + 1}: {problem}"
    return problem


def _load_document(doc, source: Source, manifest: Manifest) -> None:
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"{source}: is not an object (got {type(doc).__name__})")
    kind = doc.get("kind")
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            _load_document(item, source, manifest)
        return
    if not kind or not isinstance(kind, str):
        raise errors.InvalidArgument(f"{source}: Object 'Kind' is missing")
    if kind not in schema.KINDS:
        manifest.warnings.append(f"{source}: skipping {kind} "
                                 f"{(doc.get('metadata') or {}).get('name', '')!r}: "
                                 f"hull play knows Pod, PersistentVolumeClaim, ConfigMap, Secret")
        return
    version, shape = schema.KINDS[kind]
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) \
        else None
    what = f'The {kind} "{name or ""}" is invalid'
    found: list[str] = []
    warnings: list[str] = []
    if doc.get("apiVersion") != version:
        found.append(f"apiVersion: Unsupported value: {doc.get('apiVersion')!r}: "
                     f"supported values: \"{version}\"")
    walk(doc, shape, "", found, warnings)
    manifest.warnings.extend(f"{source}: {kind} {name!r}: unknown field \"{w}\""
                             for w in warnings)
    if not found:
        found.extend(validate.metadata(doc.get("metadata") or {}, kind))
    if found:
        raise errors.InvalidArgument(f"{what} ({source}): " + "; ".join(found))
    meta = doc.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    if kind == "Pod":
        spec = doc.get("spec") or {}
        found.extend(validate.pod_spec(spec, "spec"))
        if found:
            raise errors.InvalidArgument(f"{what} ({source}): " + "; ".join(found))
        validate.default_pod_spec(spec)
        manifest.pods.append(Pod(name, namespace, spec, dict(meta.get("labels") or {}),
                                 dict(meta.get("annotations") or {}), source))
    elif kind == "PersistentVolumeClaim":
        manifest.claims.append(_claim(doc, name, namespace, source, what))
    elif kind == "ConfigMap":
        manifest.config_maps.append(ConfigMap(name, namespace, config_map_data(doc), source))
    else:
        manifest.secrets.append(_secret(doc, name, namespace, source, what))


def _claim(doc, name, namespace, source, what) -> Claim:
    spec = doc.get("spec") or {}
    found = validate.claim_spec(spec, "spec")
    if found:
        raise errors.InvalidArgument(f"{what} ({source}): " + "; ".join(found))
    size = quantity.to_bytes(spec["resources"]["requests"]["storage"])
    return Claim(name, namespace, size, list(spec.get("accessModes") or []),
                 spec.get("storageClassName") or "", spec.get("volumeMode") or "Filesystem",
                 source)


def _secret(doc, name, namespace, source, what) -> Secret:
    data: dict[str, bytes] = {}
    for key, value in (doc.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidArgument(
                f"{what} ({source}): data[{key}]: Invalid value: \"<secret contents redacted>\": "
                f"illegal base64 data") from None
    for key, value in (doc.get("stringData") or {}).items():
        data[key] = str(value).encode()
    return Secret(name, namespace, data, source, doc.get("type") or "Opaque")


def _check_unique(manifest: Manifest) -> None:
    for kind, objects in (("Pod", manifest.pods), ("PersistentVolumeClaim", manifest.claims),
                          ("ConfigMap", manifest.config_maps), ("Secret", manifest.secrets)):
        seen: dict[str, Source | None] = {}
        for obj in objects:
            if obj.key in seen:
                raise errors.InvalidArgument(
                    f'{obj.source}: {kind} "{obj.key}" is defined twice (first in {seen[obj.key]})')
            seen[obj.key] = obj.source


def walk(value, shape, path: str, found: list[str], unknown: list[str]) -> None:
    """Check ``value`` against ``shape``: type errors to ``found``, unknown fields to ``unknown``."""
    if value is None:
        return  # null means unset, as in the API
    if isinstance(shape, str):
        problem = _scalar_problem(value, shape)
        if problem:
            found.append(f"{path}: Invalid value: {_show(value)}: {problem}")
        return
    if isinstance(shape, list):
        if not isinstance(value, list):
            found.append(f"{path}: Invalid value: {_show(value)}: must be a list")
            return
        for i, item in enumerate(value):
            walk(item, shape[0], f"{path}[{i}]", found, unknown)
        return
    if not isinstance(value, dict):
        found.append(f"{path}: Invalid value: {_show(value)}: must be an object")
        return
    for key, item in value.items():
        child = f"{path}.{key}" if path else str(key)
        if "*" in shape:
            walk(item, shape["*"], f"{path}[{key}]", found, unknown)
        elif key in shape:
            walk(item, shape[key], child, found, unknown)
        else:
            unknown.append(child)


def _scalar_problem(value, kind: str) -> str | None:
    if kind == "any":
        return None
    if kind == "str":
        # YAML turns `on`, `1.0`, `true` into non-strings; the API server refuses them too
        return None if isinstance(value, str) else f"must be a string (quote it)"
    if kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) \
            else "must be an integer"
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "number":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else "must be a number"
    if kind == "intstr":
        return None if isinstance(value, (int, str)) and not isinstance(value, bool) \
            else "must be an integer or a string"
    if kind == "quantity":
        try:
            quantity.parse(value)
        except ValueError as e:
            return str(e)
    return None


def _show(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return type(value).__name__
    return str(value)
