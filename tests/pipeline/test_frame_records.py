"""WebSocket frame records are bounded (issue #16, docs/bounds.md): a stream of 2-byte frames
wrote about 150 times its size. Past --max-frame-records frames are still decoded, counted and
assembled into messages; their records are not listed, and one anomaly per connection says how
many were not."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer import analyze_file
from analyzer.cli import main
from analyzer.pipeline import Options
from tests.crafted_captures import ws_tiny_frames


def _write(tmp_path: Path, capture: bytes, name: str = "in.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(capture)
    return path


def test_frames_past_the_bound_are_counted_not_listed(tmp_path: Path) -> None:
    path = _write(tmp_path, ws_tiny_frames(300))
    out = tmp_path / "out.json"
    args = ["analyze", str(path), "-q", "--format", "json", "-o", str(out), "--max-frame-records", "50"]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    [conn] = doc["connections"]
    ws = conn["websocket"]
    assert len(ws["frames"]) == 50
    assert ws["frames_not_listed"] == 252  # 302 frames: the text, 300 continuations, the last
    assert ws["counts"] == {"s2c:text": 1, "s2c:continuation": 301}
    [message] = ws["messages"]  # assembled from every frame, the unlisted ones too
    assert message["text"] == "first last" and message["frames"] == 302
    [capped] = [a for a in doc["anomalies"] if a["code"] == "ws.frame-records-capped"]
    assert capped["message"].startswith("252 WebSocket frames not listed after 50 (this connection's")
    assert capped["connection"] == conn["id"]
    text = tmp_path / "out.txt"
    assert main(["analyze", str(path), "-q", "-o", str(text), "--max-frame-records", "50"]) == 0
    assert "(252 not listed: --max-frame-records)" in text.read_text()


def test_the_capture_bound_is_shared_by_connections(tmp_path: Path) -> None:
    path = _write(tmp_path, ws_tiny_frames(30))
    a = analyze_file(str(path), Options(max_frame_records=1000, max_frame_records_capture=10))
    [conn] = a.connections
    assert conn.websocket is not None
    assert len(conn.websocket.frames) == 10 and conn.websocket.frames_not_listed == 22
    [capped] = [x for x in a.anomalies if x.code == "ws.frame-records-capped"]
    assert "the capture's bound of 10" in capped.message


def test_the_default_lists_every_frame_of_an_ordinary_capture(tmp_path: Path) -> None:
    a = analyze_file(str(_write(tmp_path, ws_tiny_frames(300))))
    [conn] = a.connections
    assert conn.websocket is not None
    assert len(conn.websocket.frames) == 302 and conn.websocket.frames_not_listed == 0
    assert "ws.frame-records-capped" not in {x.code for x in a.anomalies}
    assert "frames_not_listed" not in conn.websocket.to_dict()


def test_a_stream_of_tiny_frames_writes_a_bounded_document(tmp_path: Path) -> None:
    """200,000 frames of 2 bytes (400 KB of frames): before, about 60 MB of JSON."""
    path = _write(tmp_path, ws_tiny_frames(200_000))
    out = tmp_path / "out.json"
    args = ["analyze", str(path), "-q", "--format", "json", "-o", str(out), "--max-frame-records", "1000"]
    assert main(args) == 0
    assert out.stat().st_size < 2 * path.stat().st_size
