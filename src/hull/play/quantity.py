"""Kubernetes resource quantities ("500m", "128Mi", "1.5G", "2e3")."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}

_FORM = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)$")


def parse(value) -> Decimal:
    """The quantity as a Decimal; ValueError with kubectl's wording when malformed."""
    if isinstance(value, bool):
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    match = _FORM.match(str(value).strip())
    if not match:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    number, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"{number!r} is not a number") from None
    if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
        return base * (Decimal(10) ** int(suffix[1:]))
    if suffix not in _SUFFIXES:
        raise ValueError(f"unknown suffix {suffix!r}")
    return base * _SUFFIXES[suffix]


def millicores(value) -> int:
    """CPU quantity in thousandths of a core, rounded up as kubelet does."""
    return int((parse(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def to_bytes(value) -> int:
    return int(parse(value).to_integral_value(rounding="ROUND_CEILING"))
