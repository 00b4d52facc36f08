"""The 25 third-party WebSocket captures of tests/corpus through every exporter (one reading of
the capture for the four sinks)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from analyzer import Options, analyze_file
from analyzer.export.csv_stream import CsvSink
from analyzer.export.har_stream import HarSink
from analyzer.export.jsonl_stream import JsonlSink
from analyzer.export.pcapslice import PcapSliceSink
from analyzer.export.run import export_capture
from tests.conftest import corpus_captures, corpus_file, corpus_id
from tests.export.common import export_har, read_tables
from tests.export.test_har import HAR_SCHEMA


@pytest.mark.parametrize("capture", corpus_captures(), ids=corpus_id)
def test_corpus_capture_exports(capture: Path, tmp_path: Path) -> None:
    a = analyze_file(str(capture))
    har, lines = io.StringIO(), io.StringIO()
    out = tmp_path / "all.pcapng"
    with out.open("wb") as fh:
        sinks = (
            HarSink(har),
            JsonlSink(lines, layer="websocket"),
            CsvSink(str(tmp_path / "csv")),
            PcapSliceSink(fh),
        )
        export_capture(str(capture), *sinks)
    doc = json.loads(har.getvalue())
    jsonschema.validate(doc, HAR_SCHEMA)
    messages = [m for c in a.connections if c.websocket is not None for m in c.websocket.messages]
    assert sum(len(e.get("_webSocketMessages", ())) for e in doc["log"]["entries"]) == len(messages)
    records = [json.loads(x) for x in lines.getvalue().splitlines()]
    assert sorted((r["frame"], r["connection"]) for r in records) == sorted(
        (m.frame, c.id) for c in a.connections if c.websocket is not None for m in c.websocket.messages
    )
    tables = read_tables(tmp_path / "csv")
    assert [int(r["id"]) for r in tables["connections"]] == [c.id for c in a.connections]
    assert len(tables["websocket_messages"]) == len(messages)
    assert [r["code"] for r in tables["anomalies"]] == [x.code for x in a.anomalies]
    result = sinks[3].result
    assert result is not None
    assert result.packets == sum(c.tcp["packets"]["c2s"] + c.tcp["packets"]["s2c"] for c in a.connections)
    b = analyze_file(str(out))
    assert [m.data for c in b.connections if c.websocket for m in c.websocket.messages] == [
        m.data for m in messages
    ]


def test_handshake_less_websocket_gets_a_placeholder_entry() -> None:
    cap = corpus_file("ndn-tools", "ipv4-websocket-segmented.pcap")  # stream 0 starts after its handshake
    a = analyze_file(str(cap), Options(decode_as={9696: "websocket"}))
    headless = [c for c in a.connections if c.websocket is not None and c.websocket.handshake is None]
    assert headless
    doc = export_har(cap, decode_as={9696: "websocket"})
    jsonschema.validate(doc, HAR_SCHEMA)
    placeholders = [e for e in doc["log"]["entries"] if e["_socketscope"].get("handshake_captured") is False]
    assert len(placeholders) == len(headless)
    assert all(e["comment"] and e["request"]["url"].startswith("ws://") for e in placeholders)
    by_conn = {int(e["connection"]): e for e in placeholders}
    for c in headless:
        assert c.websocket is not None
        assert len(by_conn[c.id]["_webSocketMessages"]) == len(c.websocket.messages)
