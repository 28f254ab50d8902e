"""JSON without the ``json`` package.

``import json`` pulls in ``re``, ``enum`` and ``functools``: about 8 ms,
most of hull-runc's budget for a whole command. The C scanner and encoder
in ``_json`` do the real work without them; only the error path imports
``json.decoder`` (the C scanner needs its exception type in sys.modules).
"""

from __future__ import annotations

import _json


class _DecodeContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict = {}


_scan = _json.make_scanner(_DecodeContext())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None,
                             ":", ",", False, False, True)
_WHITESPACE = " \t\n\r"


class JSONError(ValueError):
    """Text that is not one JSON value; ``pos`` is the offset of the problem."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"{message} at offset {pos}")
        self.pos = pos


def loads(text: str | bytes) -> object:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        try:
            value, end = _scan(text, start)
        except SystemError:
            # _json reports errors with json.decoder.JSONDecodeError but only
            # finds it in sys.modules: load it (the error path only) and retry
            import json.decoder  # noqa: F401

            value, end = _scan(text, start)
    except StopIteration as e:
        raise JSONError("expected a JSON value", e.value) from None
    except ValueError as e:  # json.decoder.JSONDecodeError
        raise JSONError(getattr(e, "msg", str(e)), getattr(e, "pos", 0)) from None
    if text[end:].strip(_WHITESPACE):
        raise JSONError("extra data after the JSON value", end)
    return value


def dumps(value: object) -> str:
    """Compact JSON, ASCII only."""
    return "".join(_encode(value, 0))


def dumps_pretty(value: object, indent: str = "  ") -> str:
    """Indented JSON like Go's MarshalIndent (what runc prints)."""
    out: list[str] = []
    _pretty(value, indent, "", out)
    return "".join(out)


def _pretty(value: object, indent: str, prefix: str, out: list[str]) -> None:
    inner = prefix + indent
    if isinstance(value, dict) and value:
        out.append("{\n")
        for i, (key, item) in enumerate(value.items()):
            out.append(f"{inner}{_json.encode_basestring_ascii(str(key))}: ")
            _pretty(item, indent, inner, out)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append(prefix + "}")
    elif isinstance(value, (list, tuple)) and value:
        out.append("[\n")
        for i, item in enumerate(value):
            out.append(inner)
            _pretty(item, indent, inner, out)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append(prefix + "]")
    else:
        out.append(dumps(value))
