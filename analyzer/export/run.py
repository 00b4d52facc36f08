"""Exporting a capture: the pipeline run over it, its records handed to export sinks.

    with open("x.har", "w", encoding="utf-8") as out:
        export_capture("x.pcap", HarSink(out, Selection.of(sids=["abc"])))

Each format is a sink (analyzer/pipeline/sink.py): HarSink (har_stream.py), JsonlSink
(jsonl_stream.py), CsvSink (csv_stream.py), PcapSliceSink (pcapslice.py); several can be
given, and the capture is read once for them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from analyzer.capture.pcapfile import CaptureReader, open_capture
from analyzer.model.analysis import Analysis
from analyzer.pipeline import Options, Sink, run
from analyzer.pipeline.frame_cap import MAX_FRAME_RECORDS
from analyzer.protocols.deflate import INFLATE_CAPTURE_BUDGET

if TYPE_CHECKING:
    from analyzer.protocols.tls.keylog import KeyLog

__all__ = ["export_capture", "export_options"]


def export_options(
    decode_as: Mapping[int, str] | None = None,
    keylog: KeyLog | None = None,
    inflate_budget_bytes: int = INFLATE_CAPTURE_BUDGET,
    max_frame_records: int = MAX_FRAME_RECORDS,
) -> Options:
    """How an export runs the pipeline: the records' frames, messages and packets wait in
    temporary files until the sinks have had them, so memory follows open connections.
    `inflate_budget_bytes`, `max_frame_records`: the Options fields (docs/bounds.md)."""
    return Options(
        decode_as=dict(decode_as or {}),
        spill_records=True,
        keylog=keylog,
        inflate_budget_bytes=inflate_budget_bytes,
        max_frame_records=max_frame_records,
    )


def export_capture(
    capture: str | CaptureReader,
    *sinks: Sink,
    decode_as: Mapping[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    keylog: KeyLog | None = None,
    inflate_budget_bytes: int = INFLATE_CAPTURE_BUDGET,
    max_frame_records: int = MAX_FRAME_RECORDS,
) -> Analysis:
    """Run the sinks over a capture (a path or an open reader); the summary (no records).
    `keylog`: TLS secrets (a pcapng's Decryption Secrets Blocks are added by `run`)."""
    reader = open_capture(capture) if isinstance(capture, str) else capture
    options = export_options(decode_as, keylog, inflate_budget_bytes, max_frame_records)
    return run(reader, options, *sinks, progress=progress)
