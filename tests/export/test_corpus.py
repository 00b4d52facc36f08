"""The 25 third-party WebSocket captures of tests/corpus through every exporter."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from analyzer import Options, analyze_file
from analyzer.capture.pcapfile import open_capture
from analyzer.export.csvout import write_csv
from analyzer.export.har import needed_frames, packet_times, write_har
from analyzer.export.jsonl import write_jsonl
from analyzer.export.pcapslice import write_pcapng_slice
from analyzer.export.select import Selected, Selection
from analyzer.pipeline import analyze_reader
from tests.conftest import corpus_captures, corpus_file, corpus_id
from tests.export.test_har import HAR_SCHEMA


@pytest.mark.parametrize("capture", corpus_captures(), ids=corpus_id)
def test_corpus_capture_exports(capture: Path, tmp_path: Path) -> None:
    a = analyze_file(str(capture))
    s = Selected(a, Selection())
    buf = io.StringIO()
    write_har(s, buf, packet_times(str(capture), needed_frames(s)))
    doc = json.loads(buf.getvalue())
    jsonschema.validate(doc, HAR_SCHEMA)
    ws_msgs = sum(len(c.websocket.messages) for c in a.connections if c.websocket is not None)
    assert sum(len(e.get("_webSocketMessages", ())) for e in doc["log"]["entries"]) == ws_msgs
    lines = io.StringIO()
    assert write_jsonl(s, "websocket", lines) == ws_msgs
    write_csv(s, str(tmp_path / "csv"))
    out = tmp_path / "all.pcapng"
    with out.open("wb") as fh:
        result = write_pcapng_slice(str(capture), a.connections, fh)
    tcp_packets = sum(c.tcp["packets"]["c2s"] + c.tcp["packets"]["s2c"] for c in a.connections)
    assert result.packets == tcp_packets
    b = analyze_file(str(out))
    assert [m.data for c in b.connections if c.websocket for m in c.websocket.messages] == [
        m.data for c in a.connections if c.websocket for m in c.websocket.messages
    ]


def test_handshake_less_websocket_gets_a_placeholder_entry() -> None:
    cap = corpus_file("ndn-tools", "ipv4-websocket-segmented.pcap")  # stream 0 starts after its handshake
    a = analyze_reader(open_capture(str(cap)), Options(decode_as={9696: "websocket"}))
    headless = [c for c in a.connections if c.websocket is not None and c.websocket.handshake is None]
    assert headless
    buf = io.StringIO()
    write_har(Selected(a, Selection()), buf)
    doc = json.loads(buf.getvalue())
    jsonschema.validate(doc, HAR_SCHEMA)
    placeholders = [e for e in doc["log"]["entries"] if e["_socketscope"].get("handshake_captured") is False]
    assert len(placeholders) == len(headless)
    assert all(e["comment"] and e["request"]["url"].startswith("ws://") for e in placeholders)
