"""Shared helpers of the export tests: cached analyses and the applications' records."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from analyzer import analyze_file
from analyzer.export.select import Selected, Selection
from analyzer.model.analysis import Analysis
from tests.conftest import CAPTURES, bundled_captures, corpus_file

BUNDLED = bundled_captures()
SIO_CAPTURES = [p for p in BUNDLED if p.name.startswith(("sio-", "xss-"))]
WS_CAPTURES = [p for p in BUNDLED if p.name.startswith("ws-")]
PCAP2HAR = corpus_file("pcap2har", "wireshark-wiki-websocket.pcap")

__all__ = [
    "BUNDLED",
    "CAPTURES",
    "PCAP2HAR",
    "SIO_CAPTURES",
    "WS_CAPTURES",
    "analysis",
    "expected",
    "select",
]


@functools.cache
def analysis(path: str) -> Analysis:
    return analyze_file(path)


def select(path: Path | str, **kw: Any) -> Selected:
    return Selected(analysis(str(path)), Selection.of(**kw))


def expected(capture: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        capture.with_name(capture.name.split(".pcap")[0] + ".expected.json").read_text()
    )
    return doc
