"""The text summary written while the capture is read (analyzer/export/text/stream.py) is the
one print_summary writes from the whole Analysis in memory, with and without --messages,
--events and --anomalies (and their anomaly marks), on every bundled and shared capture; and it
keeps little in memory."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.export.text.stream import StreamingTextSummary
from analyzer.export.text.summary import print_summary
from analyzer.pipeline import CollectingSink, Options, analyze_file, run
from tests.conftest import bundled_captures, corpus_captures, corpus_id
from tests.tcp.test_streaming import replicated

CAPTURES = bundled_captures() + corpus_captures()


def _streamed(path: str, messages: bool, events: bool, anomalies: bool) -> str:
    out = io.StringIO()
    writer = StreamingTextSummary(out, messages=messages, events=events, anomalies=anomalies)
    run(open_capture(path), Options(spill_records=True), writer)
    return out.getvalue()


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_streamed_summary_equals_the_in_memory_one(cap: Path) -> None:
    analysis = analyze_file(str(cap))
    for flags in (False, True):
        want = io.StringIO()
        print_summary(analysis, want, messages=flags, events=flags, anomalies=flags)
        assert _streamed(str(cap), flags, flags, flags) == want.getvalue(), flags


def test_records_in_memory_are_summarised_too() -> None:
    """Records whose messages and packets are held in memory (not spilled) give the same text."""
    cap = str(bundled_captures()[0])
    out = io.StringIO()
    writer = StreamingTextSummary(out, messages=True, events=True)
    run(open_capture(cap), Options(), writer)
    want = io.StringIO()
    print_summary(analyze_file(cap), want, messages=True, events=True)
    assert out.getvalue() == want.getvalue()


def test_memory_does_not_follow_the_traffic() -> None:
    """160 copies of a capture, each with its own connections and sessions: what the streamed
    summary holds at the end of the reading is a small part of what the Analysis held in memory
    takes (the table's cells and the anomalies stay; messages and packets do not)."""
    from analyzer.model.analysis import CaptureInfo
    from analyzer.pipeline import Pipeline

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
