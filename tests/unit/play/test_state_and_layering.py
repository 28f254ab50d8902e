"""The play database and the layering rules (play talks to daemons only over sockets)."""

from __future__ import annotations

import ast
import pathlib
import time

from hull.play.state import State, decode_bytes, encode_bytes

PLAY = pathlib.Path(__file__).resolve().parents[3] / "src" / "hull" / "play"


def test_pod_rows_events_and_objects(tmp_path):
    state = State(str(tmp_path))
    state.add_pod("ns/p", "p", "ns", "uid-1", "/f.yaml", {"spec": {}},
                  [(True, 0, "init", "img"), (False, 0, "app", "img")])
    assert [c["name"] for c in state.containers("ns/p")] == ["init", "app"]
    assert state.pod("ns/p")["phase"] == "Pending"
    state.update_container("ns/p", "app", restarts=2, state="running")
    assert state.containers("ns/p")[1]["restarts"] == 2
    for _ in range(3):
        state.event("ns/p", "Warning", "BackOff", "c", "Back-off 10s")
    state.event("ns/p", "Normal", "Started", "c", "Started")
    events = state.events("ns/p")
    assert [(e["reason"], e["count"]) for e in events] == [("BackOff", 3), ("Started", 1)]
    state.put_object("ConfigMap", "ns/cfg", "/f.yaml", encode_bytes({"k": b"\x00v"}))
    config_maps, secrets = state.config_objects("ns")
    assert config_maps["cfg"].data == {"k": b"\x00v"} and secrets == {}
    assert state.config_objects("other") == ({}, {})
    state.delete_pod("ns/p")
    assert state.pod("ns/p") is None and state.containers("ns/p") == []
    assert state.events("ns/p") == []
    state.close()


def test_second_connection_sees_committed_rows(tmp_path):
    writer, reader = State(str(tmp_path)), State(str(tmp_path))
    writer.add_pod("d/a", "a", "d", "u", "/f", {}, [])
    writer.update_pod("d/a", desired="deleted", created=time.time())
    assert reader.pod("d/a")["desired"] == "deleted"
    writer.close()
    reader.close()


def test_bytes_round_trip():
    data = {"a": b"\xff\x00", "b": b""}
    assert decode_bytes(encode_bytes(data)) == data


def test_play_reaches_daemons_only_through_their_protocols():
    """No hull.cri / hull.csi server code in hull.play: sockets only, as kubelet."""
    for path in PLAY.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("hull.cri", "hull.csi", "hull.cli")), \
                    f"{path.name} imports {name}"
