"""Running the pipeline over a capture: the entry points of the Python API."""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from analyzer.capture.pcapfile import CaptureReader, RawPacket, decryption_secrets, open_capture
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.pipeline.options import Options
from analyzer.pipeline.sink import CollectingSink, Sink
from analyzer.pipeline.wiring import Pipeline
from analyzer.protocols.tls.keylog import KeyLog

__all__ = [
    "analyze_file",
    "analyze_packets",
    "analyze_reader",
    "fewer_gc_passes",
    "iter_connections",
    "note_reader_error",
    "run",
    "with_capture_secrets",
]


def run(
    reader: CaptureReader,
    options: Options | None = None,
    *sinks: Sink,
    progress: Callable[[int], None] | None = None,
) -> Analysis:
    """The one road: the pipeline over a reader, each finished record handed to every sink
    (pipeline/sink.py), then `finish(summary)` to each; the summary (no records) is returned.
    `progress(n)` is called every 16384 packets."""
    options = with_capture_secrets(options or Options(), reader)
    info = CaptureInfo(path=reader.path, format=reader.format)
    with fewer_gc_passes():
        pipe = Pipeline(info, options, *sinks)
        pipe.feed_all(reader, progress)
        note_reader_error(info, reader)
        summary = pipe.finish()
    for sink in sinks:
        sink.finish(summary)
    return summary


def note_reader_error(info: CaptureInfo, reader: CaptureReader) -> None:
    """A capture the reader could not read to its end is incomplete, with the reader's reason."""
    if reader.error:
        info.complete = False
        info.error = reader.error
        info.error_kind = reader.error_kind


def with_capture_secrets(opts: Options, reader: CaptureReader) -> Options:
    """The options with the TLS key logs of the capture's Decryption Secrets Blocks added
    (pcapng only; used without any option). The caller's key log is not changed."""
    if reader.format != "pcapng" or not os.path.isfile(reader.path):
        return opts
    secrets = decryption_secrets(reader.path)
    if not secrets:
        return opts
    keys = KeyLog()
    if opts.keylog is not None:
        keys.merge(opts.keylog)
    for i, text in enumerate(secrets, 1):
        keys.add_text(text, f"Decryption Secrets Block {i} of {os.path.basename(reader.path)}")
    return dataclasses.replace(opts, keylog=keys)


def analyze_reader(
    reader: CaptureReader, options: Options | None = None, progress: Callable[[int], None] | None = None
) -> Analysis:
    """The whole Analysis of a reader: `run` with a CollectingSink."""
    collected = CollectingSink()
    run(reader, options, collected, progress=progress)
    assert collected.analysis is not None
    return collected.analysis


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """The pipeline allocates many short-lived objects and few cycles: the default generation-0
    threshold (700) makes the cyclic collector run thousands of times for nothing (measured:
    up to a fifth of the run time). Raised for the duration of an analysis, then restored."""
    old = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def analyze_file(path: str, options: Options | None = None) -> Analysis:
    """Analyze a pcap/pcapng file: the whole Analysis, records in memory. Raises CaptureError only
    when the file is not a capture at all; a damaged capture is analyzed up to the damage
    (`analysis.capture.complete` is False)."""
    return analyze_reader(open_capture(path), options)


def analyze_packets(
    packets: Iterable[RawPacket], capture: CaptureInfo | None = None, options: Options | None = None
) -> Analysis:
    collected = CollectingSink()
    pipe = Pipeline(capture or CaptureInfo(path="<packets>", format="live"), options, collected)
    pipe.feed_all(packets)
    collected.finish(pipe.finish())
    assert collected.analysis is not None
    return collected.analysis


def iter_connections(path: str, options: Options | None = None) -> Iterator[ConnectionRecord]:
    """Streaming form: yields each connection's record as soon as it is complete.

    Records are yielded when a connection is replaced (port reuse) or at the end of the file;
    the pipeline itself holds only open connections. The records are whole, in memory: not with
    Options.spill_records (ValueError).
    """
    done = CollectingSink()
    reader = open_capture(path)
    pipe = Pipeline(CaptureInfo(path=reader.path, format=reader.format), options, _Connections(done))
    for pkt in reader:
        pipe.feed(pkt)
        if done.connections:
            yield from done.connections
            done.connections.clear()
    pipe.finish()
    yield from done.connections


class _Connections:
    """The connections of a CollectingSink only (`iter_connections`: sessions are not kept)."""

    def __init__(self, into: CollectingSink) -> None:
        self.into = into

    def connection(self, record: ConnectionRecord) -> None:
        self.into.connection(record)

    def session(self, record: EngineIOSession) -> None:
        pass

    def finish(self, summary: Analysis) -> None:
        pass
