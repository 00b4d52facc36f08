"""The text summary (analyzer/export/text/stream.py), a sink written while the capture is read:
the same text whether the records' messages and packets are in memory or spilled to disk, in
connection-id and first-frame order whatever order they close in, and little held in memory.
(Its bytes on every capture are tests/golden's; its sections, tests/cli/test_anomaly_summary.py.)"""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.export.text.stream import StreamingTextSummary
from analyzer.model.analysis import CaptureInfo
from analyzer.pipeline import CollectingSink, Options, Pipeline, run
from analyzer.tcp import tracker
from tests.conftest import bundled_captures, corpus_captures, corpus_id
from tests.tcp.test_streaming import SRC, Ids, replicated

CAPTURES = bundled_captures() + corpus_captures()


def text(path: Path, spilled: bool, every: bool) -> str:
    out = io.StringIO()
    writer = StreamingTextSummary(out, messages=every, events=every, anomalies=every)
    run(open_capture(str(path)), Options(spill_records=spilled), writer)
    return out.getvalue()


@pytest.mark.parametrize("every", [False, True], ids=["plain", "messages-events-anomalies"])
@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_records_in_memory_or_spilled_give_the_same_text(cap: Path, every: bool) -> None:
    assert text(cap, False, every) == text(cap, True, every)


def test_connections_closed_out_of_order_are_listed_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The records as they close, and the same records handed over in the summary's order."""
    monkeypatch.setattr(tracker, "LINGER_PACKETS", 1)  # closed at their FIN, not at the end
    ids, collected = Ids(), CollectingSink()
    as_closed = io.StringIO()
    writer = StreamingTextSummary(as_closed, messages=True, events=True, anomalies=True)
    summary = run(open_capture(str(SRC)), Options(), writer, collected, ids)
    assert ids.connections != sorted(ids.connections)  # what the setting is for
    assert collected.analysis is not None
    in_order = io.StringIO()
    writer = StreamingTextSummary(in_order, messages=True, events=True, anomalies=True)
    for record in collected.analysis.connections:
        writer.connection(record)
    for session in collected.analysis.engineio_sessions:
        writer.session(session)
    writer.finish(summary)
    assert as_closed.getvalue() == in_order.getvalue()


def test_memory_does_not_follow_the_traffic() -> None:
    """160 copies of a capture, each with its own connections and sessions: what the streamed
    summary holds at the end of the reading is a small part of what the Analysis held in memory
    takes (the table's cells and the anomalies stay; messages and packets do not)."""
    packets = replicated(160, spacing=600.0)

    def held(streamed: bool) -> int:
        writer = StreamingTextSummary(io.StringIO(), messages=True, events=True)
        sink = writer if streamed else CollectingSink()
        pipe = Pipeline(CaptureInfo("x", "pcap"), Options(spill_records=streamed), sink)
        tracemalloc.start()
        try:
            pipe.feed_all(packets)
            summary = pipe.finish()
            size = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        sink.finish(summary)
        return size

    streamed, whole = held(True), held(False)
    assert streamed * 4 < whole, (streamed, whole)
