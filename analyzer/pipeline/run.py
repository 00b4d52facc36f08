"""Running the pipeline over a capture: the entry points of the Python API."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from analyzer.capture.pcapfile import CaptureReader, RawPacket, open_capture
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.pipeline.options import Options
from analyzer.pipeline.wiring import Pipeline

__all__ = ["analyze_file", "analyze_packets", "analyze_reader", "iter_connections"]


def analyze_reader(
    reader: CaptureReader,
    options: Options | None = None,
    on_connection: Callable[[ConnectionRecord], None] | None = None,
    progress: Callable[[int], None] | None = None,
    on_session: Callable[[Any], None] | None = None,
) -> Analysis:
    """Run the pipeline over a reader. With `on_connection`/`on_session`, records are handed out as
    soon as they are complete (with Options.retain_connections False, nothing else keeps them)."""
    info = CaptureInfo(path=reader.path, format=reader.format)
    with _fewer_gc_passes():
        return _run(reader, info, options, on_connection, progress, on_session)


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """The pipeline allocates many short-lived objects and few cycles: the default generation-0
    threshold (700) makes the cyclic collector run thousands of times for nothing (measured:
    up to a fifth of the run time). Raised for the duration of an analysis, then restored."""
    old = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _run(
    reader: CaptureReader,
    info: CaptureInfo,
    options: Options | None,
    on_connection: Callable[[ConnectionRecord], None] | None,
    progress: Callable[[int], None] | None,
    on_session: Callable[[Any], None] | None,
) -> Analysis:
    pipe = Pipeline(info, options, on_connection, on_session)
    pipe.feed_all(reader, progress)
    if reader.error:
        info.complete = False
        info.error = reader.error
        info.error_kind = reader.error_kind
    return pipe.finish()


def analyze_file(path: str, options: Options | None = None) -> Analysis:
    """Analyze a pcap/pcapng file. Raises CaptureError only when the file is not a capture at all;
    a damaged capture is analyzed up to the damage (`analysis.capture.complete` is False)."""
    return analyze_reader(open_capture(path), options)


def analyze_packets(
    packets: Iterable[RawPacket], capture: CaptureInfo | None = None, options: Options | None = None
) -> Analysis:
    pipe = Pipeline(capture or CaptureInfo(path="<packets>", format="live"), options)
    pipe.feed_all(packets)
    return pipe.finish()


def iter_connections(path: str, options: Options | None = None) -> Iterator[ConnectionRecord]:
    """Streaming form: yields each connection's record as soon as it is complete.

    Records are yielded when a connection is replaced (port reuse) or at the end of the file;
    the pipeline itself holds only open connections.
    """
    done: list[ConnectionRecord] = []
    reader = open_capture(path)
    pipe = Pipeline(CaptureInfo(path=reader.path, format=reader.format), options, done.append)
    for pkt in reader:
        pipe.feed(pkt)
        if done:
            yield from done
            done.clear()
    pipe.finish()
    yield from done
