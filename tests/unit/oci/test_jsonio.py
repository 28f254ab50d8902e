"""hull.oci.jsonio agrees with the json package."""

from __future__ import annotations

import json

import pytest

from hull.oci import jsonio

VALUES = [{"a": [1, 2.5, "x\u00e9\n", True, None, {"b": {}}], "c": []}, [], "s", 0, -1.5e10]


@pytest.mark.parametrize("value", VALUES)
def test_round_trip_matches_json(value):
    assert jsonio.loads(jsonio.dumps(value)) == value
    assert json.loads(jsonio.dumps(value)) == value
    assert jsonio.loads(json.dumps(value, indent=3)) == value


@pytest.mark.parametrize("value", VALUES)
def test_pretty_matches_go_marshal_indent(value):
    assert jsonio.dumps_pretty(value) == json.dumps(value, indent=2, ensure_ascii=True)


@pytest.mark.parametrize("text", ["{not json", "[1,", "", "1 2", '{"a":}', "nul"])
def test_errors_are_json_errors(text):
    with pytest.raises(jsonio.JSONError):
        jsonio.loads(text)
