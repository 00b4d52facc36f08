"""The sink contract (analyzer/pipeline/sink.py): `run` hands every record to every sink once,
unchanged, then the summary; CollectingSink keeps them (the Analysis of the Python API)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.export.csv_stream import CsvSink
from analyzer.export.jsonstream import StreamingJsonWriter
from analyzer.export.text.stream import StreamingTextSummary
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.pipeline import CollectingSink, Options, Pipeline, analyze_file, run
from tests.conftest import CAPTURES, bundled_captures, corpus_captures, corpus_id
from tests.tcp.test_streaming import replicated

ALL = bundled_captures() + corpus_captures()
NODE = CAPTURES / "sio-node-v4-default.pcap"


def _doc(a: Analysis) -> Any:
    return json.loads(json.dumps(a.to_dict()))


@pytest.mark.parametrize("cap", ALL, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_sinks_of_one_run_share_the_records(cap: Path) -> None:
    """The collected records and the document a writer made of the same records, in one run."""
    sink = CollectingSink()
    out = io.StringIO()
    summary = run(open_capture(str(cap)), Options(), StreamingJsonWriter(out), sink)
    assert summary.connections == [] and summary.engineio_sessions == []  # they went to the sinks
    assert sink.analysis is not None
    assert json.loads(out.getvalue()) == _doc(sink.analysis)


class Recorder:
    """A sink that notes what it is handed, and reads each record's lists when it comes."""

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
            self.messages[record.id] = len(ws.messages.to_list())

    def session(self, record: EngineIOSession) -> None:
        self.sessions.append(record.sid)
        self.packets[record.sid] = len(record.packets.to_list())

    def finish(self, summary: Analysis) -> None:
        assert not self.summaries, "finish is called once"
        self.summaries.append(summary)


def test_every_sink_gets_every_record_whole() -> None:
    """Spilled records are read by each sink in turn (the run closes their files after the last):
    the writers before a sink neither close nor change them."""
    whole = analyze_file(str(NODE))
    sinks = [Recorder(), Recorder()]
    writers = [StreamingJsonWriter(io.StringIO()), StreamingTextSummary(io.StringIO(), messages=True)]
    summary = run(
        open_capture(str(NODE)), Options(spill_records=True), writers[0], sinks[0], writers[1], sinks[1]
    )
    for r in sinks:
        assert sorted(r.connections) == [c.id for c in whole.connections]
        assert r.messages == {c.id: len(c.websocket.messages) for c in whole.connections if c.websocket}
        assert r.sessions == [s.sid for s in whole.engineio_sessions]
        assert r.packets == {s.sid: len(s.packets) for s in whole.engineio_sessions}
        assert r.summaries == [summary]
    assert summary.anomalies == whole.anomalies and summary.capture.packets == whole.capture.packets


def test_sessions_handed_out_while_reading_are_the_ones_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Pipeline, "FLUSH_EVERY", 100)
    packets = replicated(12, spacing=600.0)

    def collect(flush: bool) -> tuple[list[EngineIOSession], int]:
        sink = CollectingSink()
        pipe = Pipeline(CaptureInfo("x", "pcap"), Options(), sink)
        if not flush:
            pipe.flush_every = 0
        early = 0
        for p in packets:
            pipe.feed(p)
            early = max(early, len(sink.sessions))
        sink.finish(pipe.finish())
        assert sink.analysis is not None
        return sink.analysis.engineio_sessions, early

    (handed, early), (at_end, none) = collect(True), collect(False)
    assert early >= 10 and none == 0
    assert [s.to_dict() for s in handed] == [s.to_dict() for s in at_end]


def test_collecting_refuses_spilled_records() -> None:
    with pytest.raises(ValueError, match="spill_records"):
        run(open_capture(str(NODE)), Options(spill_records=True), CollectingSink())


class Counting:
    """A sink that reads no WebSocket frame or message (as the text summary without --messages)."""

    reads_ws_records = False

    def __init__(self) -> None:
        self.lists: list[tuple[bool, bool, int, int]] = []

    def connection(self, record: ConnectionRecord) -> None:
        ws = record.websocket
        if ws is not None:
            self.lists.append((ws.frames.kept, ws.messages.kept, len(ws.frames), len(ws.messages)))

    def session(self, record: EngineIOSession) -> None:
        pass

    def finish(self, summary: Analysis) -> None:
        pass


def test_websocket_records_counted_when_no_sink_reads_them() -> None:
    """No sink reads frames and messages: they are counted (same counts), not serialized; one
    sink that reads them (or says nothing) makes the run keep them for every sink."""
    whole = analyze_file(str(NODE))
    ws = [c.websocket for c in whole.connections if c.websocket is not None]
    expected = [(len(w.frames), len(w.messages)) for w in ws]
    assert expected and any(n for _, n in expected)
    options = Options(spill_records=True)
    alone = Counting()
    run(open_capture(str(NODE)), options, alone, StreamingTextSummary(io.StringIO()))
    assert options.spill_ws_records  # the caller's options are not changed
    assert sorted(x[2:] for x in alone.lists) == sorted(expected)
    assert {x[:2] for x in alone.lists} == {(False, False)}
    for other in (Recorder(), StreamingTextSummary(io.StringIO(), messages=True)):
        counting = Counting()
        run(open_capture(str(NODE)), Options(spill_records=True), counting, other)
        assert {x[:2] for x in counting.lists} == {(True, True)}
        assert sorted(x[2:] for x in counting.lists) == sorted(expected)


class MessagesOnly(Counting):
    """A sink that reads WebSocket messages, not frames (as every export but the document)."""

    reads_ws_records = True
    reads_ws_frames = False


def test_websocket_frames_counted_when_sinks_read_only_messages(tmp_path: Path) -> None:
    """Sinks that read messages only: the frames are counted (same count), the messages kept; the
    CSV export is such a sink, and a sink that reads frames makes the run keep them."""
    whole = analyze_file(str(NODE))
    ws = [c.websocket for c in whole.connections if c.websocket is not None]
    expected = sorted((len(w.frames), len(w.messages)) for w in ws)
    assert expected and any(n for _, n in expected)
    options = Options(spill_records=True)
    alone = MessagesOnly()
    run(open_capture(str(NODE)), options, alone, CsvSink(str(tmp_path / "csv")))
    assert options.spill_ws_frames  # the caller's options are not changed
    assert {x[:2] for x in alone.lists} == {(False, True)}
    assert sorted(x[2:] for x in alone.lists) == expected
    both = MessagesOnly()
    run(open_capture(str(NODE)), Options(spill_records=True), both, Recorder())
    assert {x[:2] for x in both.lists} == {(True, True)}
