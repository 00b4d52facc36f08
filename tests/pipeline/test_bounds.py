"""What a small capture may cost (issue #16, docs/bounds.md): hostile captures built from real
protocol bytes (tests/crafted_captures.py) go through what a user runs, and the bytes written
stay near the capture's size."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.cli import main
from tests.crafted_captures import sio_placeholders


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
