"""JSON for the plugins straight from the C accelerator ``_json``.

``import json`` costs a plugin start ~8 ms, almost all of it ``re`` (and
``enum`` behind it), which json.decoder only needs for its pure-Python
fallback. The C scanner and encoder need neither. Same results as
``json.loads``/``json.dumps`` (compact separators aside); falls back to the
json module where ``_json`` is missing.
"""

from __future__ import annotations

try:
    import _json
except ImportError:  # pragma: no cover - every CPython build ships it
    _json = None

_WHITESPACE = " \t\n\r"


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name):
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


if _json is not None:
    _scan = _json.make_scanner(_ScanContext())
    _encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ",
                                 False, False, True)


def loads(data):
    """Decode a JSON document (str or UTF-8 bytes); ValueError when malformed."""
    if _json is None:
        import json
        return json.loads(data)
    text = data.decode("utf-8-sig") if isinstance(data, (bytes, bytearray)) else data
    text = text.strip(_WHITESPACE)
    try:
        value, end = _scan(text, 0)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at character {e.value}") from None
    if end != len(text):
        raise ValueError(f"invalid JSON: extra data at character {end}")
    return value


def dumps(value) -> str:
    """Encode ``value``: dicts, lists, strings, numbers, booleans, None."""
    if _json is None:
        import json
        return json.dumps(value)
    return "".join(_encode(value, 0))
