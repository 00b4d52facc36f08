"""Streaming: finished connections are closed while the capture is read, and the streamed JSON
document equals the in-memory one."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from analyzer import Options, analyze_file
from analyzer.capture.pcapfile import RawPacket, open_capture
from analyzer.export.jsonstream import StreamingJsonWriter
from analyzer.model import spill
from analyzer.model.analysis import Analysis, CaptureInfo
from analyzer.pipeline import CollectingSink, Pipeline, run
from analyzer.session import payloads
from analyzer.tcp import tracker
from tests.conftest import CAPTURES, bundled_captures

SRC = CAPTURES / "sio-node-v4-default.pcap"  # Ethernet, 13 short connections, all closed by FIN
SID = json.loads((CAPTURES / "sio-node-v4-default.expected.json").read_text())["socketio"]["sid"].encode()
SCHEMA = json.loads((Path(__file__).parents[2] / "analyzer" / "schema" / "analysis.schema.json").read_text())


def replicated(copies: int, spacing: float = 100.0) -> list[RawPacket]:
    """The capture repeated with the client ports shifted, so every copy has its own connections."""
    base = list(open_capture(str(SRC)))
    out = []
    t0 = base[0].ts
    frame = 0
    for k in range(copies):
        for p in base:
            d = bytearray(p.data)
            sport, dport = struct.unpack_from("!HH", d, 34)
            if sport > dport:
                sport = 20000 + (sport + k * 50) % 40000
            else:
                dport = 20000 + (dport + k * 50) % 40000
            struct.pack_into("!HH", d, 34, sport, dport)
            # a sid of its own per copy (same length, so TCP sequence numbers still hold)
            d = bytearray(bytes(d).replace(SID, SID[:-4] + b"%04d" % k))
            frame += 1
            ts = t0 + k * spacing + (p.ts - t0)
            ns = p.ts_ns + round(k * spacing * 1e9)
            out.append(RawPacket(frame, ts, p.linktype, bytes(d), len(d), 0, ns))
    return out


class Ids:
    """A sink that notes the connections' ids and the sessions, in the order they are handed over."""

    def __init__(self) -> None:
        self.connections: list[int] = []
        self.sessions: list[Any] = []

    def connection(self, record: Any) -> None:
        self.connections.append(record.id)

    def session(self, record: Any) -> None:
        self.sessions.append(record)

    def finish(self, summary: Analysis) -> None:
        pass


def test_finished_connections_are_closed_while_reading() -> None:
    ids = Ids()
    emitted = ids.connections
    pipe = Pipeline(CaptureInfo("x", "pcap"), Options(), ids)
    packets = replicated(20)
    peak = 0
    for p in packets:
        pipe.feed(p)
        peak = max(peak, len(pipe.tracker.active) // 2)
    # every copy starts 100 s after the previous one: older copies are closed by then
    assert len(emitted) >= 13 * 18, "connections were not closed before the end of the capture"
    assert peak <= 13 * 2, f"open connections grew with the capture: {peak}"
    a = pipe.finish()
    assert a.connections == [] and len(emitted) == 13 * 20
    assert a.layer_stats["late_packets"] == 0


def test_linger_keeps_the_final_ack_in_its_connection() -> None:
    assert tracker.LINGER_PACKETS > 100
    a = analyze_file(str(SRC))
    assert sum(c.tcp["packets"]["c2s"] + c.tcp["packets"]["s2c"] for c in a.connections) == a.capture.packets


@pytest.mark.parametrize("mode", ["", "every-payload-parked", "closed-out-of-order"])
@pytest.mark.parametrize("capture", bundled_captures(), ids=lambda p: p.name)
def test_streamed_document_equals_the_in_memory_one(
    capture: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "every-payload-parked":  # every Engine.IO payload goes through the session payload file
        monkeypatch.setattr(payloads, "MIN_SIZE", 1)
    if mode == "closed-out-of-order":  # connections are closed at their FIN, not at the end
        monkeypatch.setattr(tracker, "LINGER_PACKETS", 1)
    whole = analyze_file(str(capture)).to_dict()
    buf = io.StringIO()
    closed = _stream(capture, buf)
    streamed = json.loads(buf.getvalue())
    jsonschema.validate(streamed, SCHEMA)
    assert streamed == json.loads(json.dumps(whole))  # connections in id order, as in memory
    if mode == "closed-out-of-order" and capture.name == SRC.name:
        assert closed != sorted(closed)  # what the mode is for


def _stream(capture: Path, out: Any) -> list[int]:
    """Stream the document of `capture` to `out`; the ids in the order the connections closed."""
    ids = Ids()
    run(open_capture(str(capture)), Options(spill_records=True), ids, StreamingJsonWriter(out))
    return ids.connections


def test_connections_waiting_for_their_turn_are_copied_by_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real output file (sendfile from the park file), big records spilled to disk as well."""
    monkeypatch.setattr(spill, "IN_MEMORY", 64)
    monkeypatch.setattr(tracker, "LINGER_PACKETS", 1)
    capture = SRC
    path = tmp_path / "doc.json"
    with open(path, "w", encoding="utf-8", errors="backslashreplace") as out:
        closed = _stream(capture, out)
    assert closed != sorted(closed)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc == json.loads(json.dumps(analyze_file(str(capture)).to_dict()))


def test_a_missing_connection_id_does_not_hold_the_others_back() -> None:
    """Ids are dense, but should one never come, the ones after it are still written, in order."""
    records = analyze_file(str(SRC)).connections
    buf = io.StringIO()
    writer = StreamingJsonWriter(buf)
    for r in reversed(records[1:]):  # id 0 never comes; the others close last-first
        writer.connection(r)
    writer.finish(
        Analysis(capture=CaptureInfo("x", "pcap"), connections=[], engineio_sessions=[], anomalies=[])
    )
    assert [c["id"] for c in json.loads(buf.getvalue())["connections"]] == [r.id for r in records[1:]]


def test_sessions_that_said_they_are_over_are_flushed_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies 40 s apart: far less than the 120 s a polling session may stay quiet, but each
    session ends with a close packet or its WebSocket, so it is flushed ~10 s after its end, and
    it is analysed exactly as at the end of the capture."""
    monkeypatch.setattr(Pipeline, "FLUSH_EVERY", 50)
    packets = replicated(12, spacing=40.0)
    ids = Ids()
    flushed = ids.sessions
    pipe = Pipeline(CaptureInfo("x", "pcap"), Options(), ids)
    early = 0
    for p in packets:
        pipe.feed(p)
        early = max(early, len(flushed))
    pipe.finish()
    at_end = _sessions_at_the_end(packets)
    assert early >= 10, "sessions that ended were kept until the quiet period ran out"

    def key(s: Any) -> str:
        return json.dumps(s.to_dict(), sort_keys=True)

    assert sorted(map(key, flushed)) == sorted(map(key, at_end))


def test_sessions_that_are_over_are_flushed_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Pipeline, "FLUSH_EVERY", 100)
    ids = Ids()
    sessions = ids.sessions
    pipe = Pipeline(CaptureInfo("x", "pcap"), Options(), ids)
    for p in replicated(12, spacing=600.0):
        pipe.feed(p)
    flushed_early = len(sessions)
    assert flushed_early >= 10, "finished Engine.IO sessions were kept until the end"
    a = pipe.finish()
    # the rest are handed out at the end, one at a time; none is kept in the analysis
    assert len(sessions) == 12 and a.engineio_sessions == []


def _sessions_at_the_end(packets: list[RawPacket]) -> list[Any]:
    """The sessions all analysed at the end (`flush_every` 0: no look for finished ones while reading)."""
    sink = CollectingSink()
    pipe = Pipeline(CaptureInfo("x", "pcap"), Options(), sink)
    pipe.flush_every = 0
    for p in packets:
        pipe.feed(p)
    sink.finish(pipe.finish())
    assert sink.analysis is not None
    return sink.analysis.engineio_sessions
