"""What a small capture may cost (issue #16, docs/bounds.md): hostile captures built from real
protocol bytes (tests/crafted_captures.py) go through what a user runs, and the bytes written
stay near the capture's size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer import analyze_file
from analyzer.cli import main
from analyzer.pipeline import Options
from tests.crafted_captures import http_gzip_bomb, sio_placeholders, ws_inflate_bomb


def _analyze(tmp_path: Path, capture: bytes, *args: str) -> tuple[Path, int]:
    path = tmp_path / "in.pcap"
    path.write_bytes(capture)
    out = tmp_path / "out"
    rc = main(["analyze", str(path), "-q", "-o", str(out), *args])
    return out, rc


def test_repeated_placeholders_do_not_copy_their_attachment(tmp_path: Path) -> None:
    """1000 placeholders of one 16 KiB attachment: each was a 32 KB hex copy, twice (args and
    data), 64 MB of JSON from a 60 KB capture."""
    capture = sio_placeholders(1000, 16 << 10)
    out, rc = _analyze(tmp_path, capture, "--format", "json")
    assert rc == 0
    size = out.stat().st_size
    assert size < 6 << 20, size
    doc = json.loads(out.read_text())
    [session] = doc["engineio_sessions"]
    [event] = [p for p in session["socketio"]["packets"] if p["type"] == "BINARY_EVENT"]
    hexed = [a for a in event["args"] if "$hex" in a]
    assert len(hexed) == 1 + (1 << 20) // (16 << 10)  # the first, then repeats up to 1 MiB
    assert event["args"][len(hexed) :] == [{"$ref_attachment": 0}] * (1000 - len(hexed))
    assert [a["code"] for a in doc["anomalies"]] == ["sio.placeholder-repeated"]
    text, rc = _analyze(tmp_path, capture, "--events")
    assert rc == 0 and text.stat().st_size < 2 << 20


def test_inflated_messages_past_the_budget_are_dropped_not_written(tmp_path: Path) -> None:
    """20 messages of one connection, each 1 MiB of zeros from about 1 KiB: 40 MB of hex from a
    40 KB capture before the budget; `--inflate-budget-mb 1` keeps 64 KiB (+ 32x) per connection."""
    capture = ws_inflate_bomb(20, 1 << 20)
    assert len(capture) < 100_000
    out, rc = _analyze(tmp_path, capture, "--format", "json", "--inflate-budget-mb", "1")
    assert rc == 0 and out.stat().st_size < 1 << 20, out.stat().st_size
    doc = json.loads(out.read_text())
    [conn] = doc["connections"]
    messages = conn["websocket"]["messages"]
    assert len(messages) == 20 and all(m["length"] == 1 << 20 and m["truncated"] for m in messages)
    assert all(m["data_hex"] == "" for m in messages)
    assert len(conn["websocket"]["frames"]) == 20  # every frame is kept
    assert [a["code"] for a in doc["anomalies"] if "budget" in a["code"]] == ["ws.inflate-budget-exceeded"]
    text, rc = _analyze(tmp_path, capture, "--inflate-budget-mb", "1")
    assert rc == 0 and text.stat().st_size < 64 << 10


def test_the_default_budget_is_per_connection_and_per_capture(tmp_path: Path) -> None:
    path = tmp_path / "ws.pcap"
    path.write_bytes(ws_inflate_bomb(6, 4 << 20, connections=2))
    a = analyze_file(str(path))
    for conn in a.connections:  # 16 MiB + 32 bytes per compressed byte each: four messages
        ws = conn.websocket
        assert ws is not None
        assert [len(m.data) for m in ws.messages] == [4 << 20] * 4 + [0, 0]
        assert all(m.length == 4 << 20 for m in ws.messages)
    assert [x.code for x in a.anomalies].count("ws.inflate-budget-exceeded") == 2
    small = analyze_file(
        str(path), Options(inflate_budget_bytes=24 << 20, inflate_connection_budget_bytes=16 << 20)
    )
    kept = [len([m for m in c.websocket.messages if m.data]) for c in small.connections if c.websocket]
    assert kept == [4, 2]  # the capture's 24 MiB (+ 32x) ran out in the second connection


def test_gzip_bodies_share_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "http.pcap"
    path.write_bytes(http_gzip_bomb(3, 8 << 20))
    [conn] = analyze_file(str(path)).connections
    bodies = [x.response.body for x in conn.http if x.response is not None]
    assert [len(b) for b in bodies] == [8 << 20, 8 << 20, 0]


def test_the_budget_option_reaches_export_and_serve(tmp_path: Path) -> None:
    path = tmp_path / "ws.pcap"
    path.write_bytes(ws_inflate_bomb(3, 1 << 20))
    sizes = []
    for extra in ([], ["--inflate-budget-mb", "1"]):
        out = tmp_path / f"out{len(extra)}.jsonl"
        args = ["export", str(path), "--format", "jsonl", "--layer", "websocket", "-o", str(out), "-q"]
        assert main([*args, *extra]) == 0
        sizes.append(out.stat().st_size)
    assert sizes[0] > 6 << 20 and sizes[1] < 4096  # three 1 MiB messages, then none kept
    with pytest.raises(SystemExit) as usage:  # argparse: the usage line, exit 2
        main(["export", str(path), "--format", "har", "-o", "-", "--inflate-budget-mb", "x"])
    assert usage.value.code == 2

    from webui import create_app

    app = create_app(captures=[str(path)], folders=[], config={"INFLATE_BUDGET_MB": 1})
    store = app.extensions["socketscope.store"]
    entry = next(e for e in store.entries() if e.source == "cli")
    job = store.job(entry)
    assert job.done.wait(60) and job.index is not None
    assert any(a.get("code") == "ws.inflate-budget-exceeded" for a in job.index.anomalies)
