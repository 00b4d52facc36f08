"""Shared helpers of the export tests: cached analyses, the applications' records, and each
export format run over a capture (the sinks of analyzer/export/, as `socketscope export` runs them)."""

from __future__ import annotations

import csv
import functools
import io
import json
from pathlib import Path
from typing import Any

from analyzer import analyze_file
from analyzer.export.csv_stream import CsvSink
from analyzer.export.csvout import TABLES
from analyzer.export.har_stream import HarSink
from analyzer.export.jsonl_stream import JsonlSink
from analyzer.export.pcapslice import PcapSliceSink, SliceResult
from analyzer.export.run import export_capture
from analyzer.export.select import Selection
from analyzer.model.analysis import Analysis
from tests.conftest import CAPTURES, bundled_captures, corpus_file

BUNDLED = bundled_captures()
SIO_CAPTURES = [p for p in BUNDLED if p.name.startswith(("sio-", "xss-"))]
WS_CAPTURES = [p for p in BUNDLED if p.name.startswith("ws-")]
PCAP2HAR = corpus_file("pcap2har", "wireshark-wiki-websocket.pcap")

Table = list[dict[str, str]]

__all__ = [
    "BUNDLED",
    "CAPTURES",
    "PCAP2HAR",
    "SIO_CAPTURES",
    "WS_CAPTURES",
    "Table",
    "analysis",
    "expected",
    "export_csv",
    "export_har",
    "export_jsonl",
    "export_slice",
    "read_tables",
]

csv.field_size_limit(1 << 30)


@functools.cache
def analysis(path: str) -> Analysis:
    return analyze_file(path)


def expected(capture: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        capture.with_name(capture.name.split(".pcap")[0] + ".expected.json").read_text()
    )
    return doc


def export_jsonl(capture: Path | str, layer: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    """The JSON Lines export of `capture`, read back (a strict UTF-8 file, one record a line)."""
    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding="utf-8", newline="")
    sink = JsonlSink(out, Selection.of(**kw), layer)
    export_capture(str(capture), sink)
    out.flush()
    lines = buf.getvalue().decode("utf-8").splitlines()  # no U+2028 and the like split a record
    assert len(lines) == sink.written
    return [json.loads(line) for line in lines]


def export_har(capture: Path | str, decode_as: dict[int, str] | None = None, **kw: Any) -> dict[str, Any]:
    """The HAR export of `capture`, parsed (written to a strict UTF-8 file)."""
    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding="utf-8", newline="")
    sink = HarSink(out, Selection.of(**kw), comment="test")
    export_capture(str(capture), sink, decode_as=decode_as)
    out.flush()
    doc: dict[str, Any] = json.loads(buf.getvalue().decode("utf-8"))
    assert len(doc["log"]["entries"]) == sink.written
    return doc


def export_csv(capture: Path | str, out: Path, raw: bool = False, **kw: Any) -> dict[str, Table]:
    """The CSV export of `capture` into `out`, read back: table -> rows as {column: cell}."""
    sink = CsvSink(str(out), Selection.of(**kw), raw=raw)
    export_capture(str(capture), sink)
    tables = read_tables(out)
    assert {name: len(rows) for name, rows in tables.items()} == sink.counts
    return tables


def read_tables(out: Path) -> dict[str, Table]:
    """Every table of a CSV export, checking its header."""
    tables: dict[str, Table] = {}
    for name, columns in TABLES.items():
        with (out / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert tuple(rows[0]) == columns
        tables[name] = [dict(zip(columns, r, strict=True)) for r in rows[1:]]
    return tables


def export_slice(capture: Path | str, out: Path, **kw: Any) -> tuple[Analysis, SliceResult]:
    """The pcapng slice of `capture` written to `out`: its analysis, and what was written."""
    with out.open("wb") as fh:
        sink = PcapSliceSink(fh, Selection.of(**kw))
        export_capture(str(capture), sink)
    assert sink.result is not None
    return analyze_file(str(out)), sink.result
