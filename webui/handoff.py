"""Hand-off downloads: what a view shows, as the CLI's exports write it (analyzer/export/): HAR,
JSON Lines, CSV (one table, or every table in a zip) or a pcapng slice of the packets.

The scope is the view's: a TCP connection, an Engine.IO session, a namespace, an event (the
export's `Selection`), or the whole capture; and its filter (`filter=`, docs/filters.md), which
keeps what `export --filter` keeps (analyzer/export/keep.py). The capture is read again by the
export's sinks into a temporary file, which is sent and then removed."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any

from analyzer.export.csvout import TABLES
from analyzer.export.select import Selection
from analyzer.query import compile_filter
from webui.index import Filters, Index

__all__ = [
    "FORMATS",
    "Download",
    "csv_table",
    "download_label",
    "make_download",
    "remove",
    "scope_args",
    "scope_text",
    "selection_for",
]

FORMATS = (("har", "HAR"), ("jsonl", "JSONL"), ("csv", "CSV"), ("pcapng", "pcapng slice"))
_CSV_FOR_LAYER = {
    "socketio": "socketio_packets",
    "engineio": "engineio_packets",
    "websocket": "websocket_messages",
    "http": "http",
    "tcp": "connections",
}


@dataclass(frozen=True)
class Download:
    path: str  # the file to send (inside `folder`, removed with it)
    folder: str
    name: str  # what the browser saves it as
    mimetype: str


def selection_for(ix: Index, flt: Filters) -> Selection:
    """The export's selection for a view's filter: its connection, its session (by sid), its
    namespace and event."""
    sids: list[str] = []
    if flt.session is not None and 0 <= flt.session < len(ix.session_summaries):
        sid = ix.session_summaries[flt.session].sid
        if sid:
            sids.append(sid)
    return Selection.of(
        [flt.connection] if flt.connection is not None else [],
        sids,
        [flt.nsp] if flt.nsp else [],
        [flt.event] if flt.event else [],
    )


def scope_args(flt: Filters) -> dict[str, str]:
    """The query arguments of a download link that keep the view's scope."""
    args = flt.to_args()
    return {k: v for k, v in args.items() if k in ("connection", "session", "nsp", "event", "filter")}


def scope_text(flt: Filters) -> str:
    parts = []
    if flt.connection is not None:
        parts.append(f"TCP #{flt.connection}")
    if flt.session is not None:
        parts.append(f"Engine.IO session #{flt.session}")
    if flt.nsp:
        parts.append(f"namespace {flt.nsp}")
    if flt.event:
        parts.append(f"event {flt.event}")
    if flt.expr:
        parts.append(f"filter {flt.expr}")
    return ", ".join(parts) if parts else "the whole capture"


def csv_table(name: str | None, layers: list[str]) -> str | None:
    """The CSV table asked for (`table=`), or the one of the top layer listed; None: all of them."""
    if name in TABLES:
        return name
    for layer in ("socketio", "engineio", "websocket", "http", "tcp"):
        if layer in layers:
            return _CSV_FOR_LAYER[layer]
    return None


def download_label(name: str, flt: Filters) -> str:
    """The file name's stem: the capture's name and the scope (not the filter's text)."""
    args = scope_args(flt)
    args.pop("filter", None)
    return (
        name.rsplit(".", 1)[0]
        + "".join(f"-{k}{v}" for k, v in args.items())
        + ("-filtered" if flt.expr else "")
    )


def make_download(
    capture: str, label: str, fmt: str, selection: Selection, table: str | None, expr: str | None = None
) -> Download:
    """Run the export of `fmt` over the capture into a new temporary folder, keeping what the
    filter `expr` keeps. Raises ValueError for an unknown format, FilterError for a filter that
    is not one (before anything is read)."""
    from analyzer.export.csv_stream import CsvSink
    from analyzer.export.har_stream import HarSink
    from analyzer.export.jsonl_stream import JsonlSink
    from analyzer.export.pcapslice import PcapSliceSink
    from analyzer.export.run import export_capture

    flt = compile_filter(expr) if expr else None
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:80] or "capture"
    folder = tempfile.mkdtemp(prefix="socketscope-download-")
    try:
        if fmt == "har":
            path = os.path.join(folder, stem + ".har")
            with open(path, "w", encoding="utf-8") as out:
                export_capture(
                    capture,
                    HarSink(
                        out, selection, comment=f"socketscope export of {label}", capture=capture, flt=flt
                    ),
                )
            return Download(path, folder, os.path.basename(path), "application/json")
        if fmt == "jsonl":
            path = os.path.join(folder, stem + ".jsonl")
            with open(path, "w", encoding="utf-8") as out:
                export_capture(capture, JsonlSink(out, selection, flt=flt))
            return Download(path, folder, os.path.basename(path), "application/x-ndjson")
        if fmt == "pcapng":
            path = os.path.join(folder, stem + ".pcapng")
            with open(path, "wb") as bout:
                export_capture(capture, PcapSliceSink(bout, selection, capture=capture, flt=flt))
            return Download(path, folder, os.path.basename(path), "application/octet-stream")
        if fmt == "csv":
            tables = os.path.join(folder, "tables")
            export_capture(capture, CsvSink(tables, selection, flt=flt))
            if table is not None:
                path = os.path.join(tables, table + ".csv")
                return Download(path, folder, f"{stem}-{table}.csv", "text/csv")
            path = os.path.join(folder, stem + "-csv.zip")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                for name in sorted(os.listdir(tables)):
                    z.write(os.path.join(tables, name), name)
            return Download(path, folder, os.path.basename(path), "application/zip")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    raise ValueError(f"format is one of {', '.join(f for f, _ in FORMATS)}")


def remove(d: Download) -> Any:
    """The callable that removes the download's folder once it is sent."""
    return lambda: shutil.rmtree(d.folder, ignore_errors=True)
