"""The sink contract (analyzer/pipeline/sink.py): `run` hands every record to every sink once,
then the summary; CollectingSink gives the Analysis that retained records give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.pipeline import CollectingSink, Options, Pipeline, analyze_file, analyze_reader, run
from tests.conftest import CAPTURES, bundled_captures, corpus_captures, corpus_id
from tests.tcp.test_streaming import replicated

ALL = bundled_captures() + corpus_captures()
NODE = CAPTURES / "sio-node-v4-default.pcap"


def _doc(a: Analysis) -> Any:
    return json.loads(json.dumps(a.to_dict()))


@pytest.mark.parametrize("cap", ALL, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_collected_records_are_the_retained_analysis(cap: Path) -> None:
    sink = CollectingSink()
    summary = run(open_capture(str(cap)), Options(retain_connections=False), sink)
    assert summary.connections == [] and summary.engineio_sessions == []  # they went to the sink
    assert sink.analysis is not None
    assert _doc(sink.analysis) == _doc(analyze_file(str(cap)))


class Recorder:
    """A sink that notes what it is handed, and reads each spilled record when it comes."""

    def __init__(self) -> None:
        self.connections: list[int] = []
        self.messages: dict[int, int] = {}
        self.sessions: list[str] = []
        self.packets: dict[str, int] = {}
        self.summaries: list[Analysis] = []

    def connection(self, record: ConnectionRecord) -> None:
        self.connections.append(record.id)
        ws = record.websocket
        if ws is not None:
            spill = ws.spilled_messages
            self.messages[record.id] = len(spill.load()) if spill is not None else len(ws.messages)

    def session(self, record: EngineIOSession) -> None:
        self.sessions.append(record.sid)
        spill = record.spilled_packets
        self.packets[record.sid] = len(spill.load()) if spill is not None else len(record.packets)

    def finish(self, summary: Analysis) -> None:
        assert not self.summaries, "finish is called once"
        self.summaries.append(summary)


def test_every_sink_gets_every_record_whole() -> None:
    """Spilled records are read by each sink in turn (the run closes their files after the last)."""
    whole = analyze_file(str(NODE))
    sinks = [Recorder(), Recorder()]
    summary = run(open_capture(str(NODE)), Options(retain_connections=False, spill_records=True), *sinks)
    for r in sinks:
        assert sorted(r.connections) == [c.id for c in whole.connections]
        assert r.messages == {c.id: len(c.websocket.messages) for c in whole.connections if c.websocket}
        assert r.sessions == [s.sid for s in whole.engineio_sessions]
        assert r.packets == {s.sid: len(s.packets) for s in whole.engineio_sessions}
        assert r.summaries == [summary]
    assert summary.anomalies == whole.anomalies and summary.capture.packets == whole.capture.packets


def test_retained_records_go_to_the_sinks_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """With Options.retain_connections the analysis keeps the records, and the sinks still get
    each once, sessions flushed while reading included."""
    sink = Recorder()
    a = run(open_capture(str(NODE)), Options(), sink)
    whole = analyze_file(str(NODE))
    assert _doc(a) == _doc(whole)
    assert sorted(sink.connections) == [c.id for c in whole.connections]
    assert sink.sessions == [s.sid for s in whole.engineio_sessions]
    # sessions over before the end are handed out while reading, and kept as well
    monkeypatch.setattr(Pipeline, "FLUSH_EVERY", 100)
    packets = replicated(12, spacing=600.0)
    handed: list[str] = []
    pipe = Pipeline(CaptureInfo("x", "pcap"), Options(), on_session=lambda s: handed.append(s.sid))
    early = 0
    for p in packets:
        pipe.feed(p)
        early = max(early, len(handed))
    kept = pipe.finish().engineio_sessions
    alone = Pipeline(CaptureInfo("x", "pcap"), Options())
    for p in packets:
        alone.feed(p)
    assert early >= 10 and sorted(handed) == sorted(s.sid for s in kept)
    assert [s.to_dict() for s in kept] == [s.to_dict() for s in alone.finish().engineio_sessions]


def test_collecting_refuses_spilled_records() -> None:
    with pytest.raises(ValueError, match="spill_records"):
        run(open_capture(str(NODE)), Options(retain_connections=False, spill_records=True), CollectingSink())


def test_callbacks_are_a_sink() -> None:
    ids: list[int] = []
    sids: list[str] = []
    a = analyze_reader(
        open_capture(str(NODE)),
        Options(retain_connections=False),
        on_connection=lambda r: ids.append(r.id),
        on_session=lambda s: sids.append(s.sid),
    )
    whole = analyze_file(str(NODE))
    assert sorted(ids) == [c.id for c in whole.connections] and a.connections == []
    assert sids == [s.sid for s in whole.engineio_sessions] and a.engineio_sessions == []
