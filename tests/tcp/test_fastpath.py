"""The flat loop for common packets (analyzer/pipeline/fastloop.py) changes nothing in the analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.model.analysis import CaptureInfo
from analyzer.pipeline import CollectingSink, Options, Pipeline
from tests.conftest import bundled_captures, corpus_captures
from tests.crafted_captures import CRAFTED
from tests.tcp.test_streaming import replicated


def analyse(path: Path, fast: bool, options: Options | None = None) -> dict[str, object]:
    reader = open_capture(str(path))
    sink = CollectingSink()
    pipe = Pipeline(CaptureInfo(str(path), reader.format), options, sink)
    if fast:
        pipe.feed_all(reader)
    else:
        for pkt in reader:
            pipe.feed(pkt)
    sink.finish(pipe.finish())
    assert sink.analysis is not None
    return json.loads(json.dumps(sink.analysis.to_dict()))


@pytest.mark.parametrize("capture", corpus_captures() + bundled_captures(), ids=lambda p: p.name)
def test_same_analysis_with_and_without_the_fast_path(capture: Path) -> None:
    assert analyse(capture, True) == analyse(capture, False)


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_same_analysis_of_crafted_captures(name: str, tmp_path: Path) -> None:
    """Retransmissions, holes, port reuse and every anomaly of tests/crafted_captures.py."""
    path = tmp_path / f"{name}.pcap"
    path.write_bytes(CRAFTED[name].build())
    options = CRAFTED[name].options
    assert analyse(path, True, options) == analyse(path, False, options)


def test_long_stream_with_lingering_and_flushes_is_the_same() -> None:
    """180 copies of a capture: connections linger and expire, sessions are flushed while reading."""
    packets = replicated(180, spacing=600.0)

    def run(fast: bool) -> tuple[dict[str, object], list[object], list[int]]:
        sink = CollectingSink()
        pipe = Pipeline(CaptureInfo("x", "pcap"), Options(), sink)
        seen: list[int] = []
        if fast:
            pipe.feed_all(packets, seen.append)
        else:
            for i, pkt in enumerate(packets, 1):
                pipe.feed(pkt)
                if not i % 16384:
                    seen.append(i)
        sink.finish(pipe.finish())
        assert sink.analysis is not None
        a = json.loads(json.dumps(sink.analysis.to_dict()))
        return a, [pipe.decoder.stats.to_dict()], seen

    fast, slow = run(True), run(False)
    assert fast == slow
    assert fast[2] == [16384, 32768] and len(packets) < 3 * 16384  # progress every 16384 packets
