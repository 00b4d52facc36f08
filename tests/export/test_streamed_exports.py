"""JSON Lines and pcapng slices made while the capture is read (analyzer/export/jsonl_stream.py,
streamsel.py) are what the exporters make from the whole Analysis, for every layer and kind of
selection, on every bundled and shared capture."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.export.csv_stream import StreamingCsv
from analyzer.export.csvout import TABLES, write_csv
from analyzer.export.har import needed_frames, packet_times, write_har
from analyzer.export.har_stream import StreamingHar
from analyzer.export.jsonl import write_jsonl
from analyzer.export.jsonl_stream import StreamingJsonl
from analyzer.export.pcapslice import write_pcapng_slice
from analyzer.export.select import Selected, Selection, default_layer
from analyzer.export.streamsel import StreamingSlice
from analyzer.pipeline import Options, analyze_file, analyze_reader
from tests.conftest import bundled_captures, corpus_captures, corpus_id

CAPTURES = bundled_captures() + corpus_captures()


def _run(path: str, writer: Any) -> Any:
    """The pipeline over a capture, its records streamed to `writer`; the Analysis."""
    return analyze_reader(
        open_capture(path),
        Options(retain_connections=False, spill_records=True),
        on_connection=writer.connection,
        on_session=writer.session,
    )


def _streamed(path: str, selection: Selection, layer: str | None) -> str:
    writer = StreamingJsonl(selection, layer)
    analysis = _run(path, writer)
    out = io.StringIO()
    writer.finish(analysis, out)
    return out.getvalue()


def _selections(path: str) -> list[Selection]:
    a = analyze_file(path)
    out = [Selection()]
    ws = [c.id for c in a.connections if c.websocket is not None]
    if ws:
        out.append(Selection.of(connections=[ws[-1]]))
    if a.engineio_sessions:
        s = a.engineio_sessions[-1]
        out.append(Selection.of(sids=[s.sid]))
        out.append(Selection.of(sids=[s.sid], connections=s.connections[-1:]))
        events = [p.packet.event for p in (s.socketio.packets if s.socketio else ()) if p.packet.event]
        if events:
            out.append(Selection.of(events=[events[0]]))
            out.append(Selection.of(namespaces=["/"], events=[events[-1]]))
    out.append(Selection.of(sids=["no-such-sid"]))
    return out


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_streamed_lines_equal_the_in_memory_ones(cap: Path) -> None:
    analysis = analyze_file(str(cap))
    lines = 0
    for selection in _selections(str(cap)):
        selected = Selected(analysis, selection)
        for layer in (None, "websocket", "engineio", "socketio"):
            want = io.StringIO()
            write_jsonl(selected, layer or default_layer(selected), want)
            assert _streamed(str(cap), selection, layer) == want.getvalue(), (selection, layer)
            lines += want.getvalue().count("\n")
    has_messages = analysis.engineio_sessions or any(
        c.websocket and c.websocket.messages for c in analysis.connections
    )
    assert lines > 0 or not has_messages


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_streamed_slice_equals_the_in_memory_one(cap: Path) -> None:
    """export --format pcap: the same pcapng bytes from the streamed selection."""
    analysis = analyze_file(str(cap))
    for selection in _selections(str(cap)):
        want = io.BytesIO()
        write_pcapng_slice(str(cap), Selected(analysis, selection).connections, want)
        writer = StreamingSlice(selection)
        streamed = _run(str(cap), writer)
        got = io.BytesIO()
        writer.finish(streamed, str(cap), got)
        assert got.getvalue() == want.getvalue(), selection


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_streamed_csv_equals_the_in_memory_one(cap: Path, tmp_path: Path) -> None:
    """export --format csv: the same seven files from streamed records."""
    analysis = analyze_file(str(cap))
    for k, selection in enumerate(_selections(str(cap))):
        for raw in (False, True):
            want, got = tmp_path / f"want{k}{raw}", tmp_path / f"got{k}{raw}"
            counts = write_csv(Selected(analysis, selection), str(want), raw=raw)
            writer = StreamingCsv(selection, raw=raw)
            streamed = _run(str(cap), writer)
            assert writer.finish(streamed, str(got)) == counts
            for table in TABLES:
                name = table + ".csv"
                assert (got / name).read_bytes() == (want / name).read_bytes(), (selection, raw, table)


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_streamed_har_equals_the_in_memory_one(cap: Path) -> None:
    """export --format har: the same document from streamed records (timings from the same
    second pass over the file, entries in the same order)."""
    analysis = analyze_file(str(cap))
    for selection in _selections(str(cap)):
        selected = Selected(analysis, selection)
        want = io.StringIO()
        write_har(selected, want, packet_times(str(cap), needed_frames(selected)), comment="c")
        writer = StreamingHar(selection)
        streamed = _run(str(cap), writer)
        got = io.StringIO()
        writer.finish(streamed, str(cap), got, comment="c")
        assert got.getvalue() == want.getvalue(), selection
