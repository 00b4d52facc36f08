"""PayloadStore: what goes in comes back equal, from the buffer or from the file."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.export.jsonstream import StreamingJsonWriter
from analyzer.model.analysis import Analysis, CaptureInfo
from analyzer.session import payloads
from analyzer.session.builder import SessionBuilder
from analyzer.session.payloads import PayloadStore


@given(st.lists(st.one_of(st.binary(max_size=3000), st.text(max_size=1000)), max_size=40))
def test_every_payload_comes_back_equal(items: list[str | bytes]) -> None:
    store = PayloadStore()
    refs = [store.put(x) for x in items]
    assert [store.get(r) for r in refs] == items
    store.close()


def test_lone_surrogates_and_payloads_past_the_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payloads, "_FLUSH_AT", 64)
    store = PayloadStore()
    items: list[str | bytes] = ["\ud800 lone", os.urandom(100), "é" * 50, b"", "x" * 10]
    refs = [store.put(x) for x in items]
    assert store._file.size > 0  # some went to the file
    assert [store.get(r) for r in reversed(refs)] == list(reversed(items))
    store.close()


def test_a_long_session_is_written_without_holding_its_payloads(tmp_path: Path) -> None:
    """One WebSocket session with 400 binary events of 64 KiB (26 MB of payload): analysed and
    written through the payload file, the session never sits in memory whole."""
    from tests.session.test_builder import OPEN4, PH0, C, Flow, S, wsurl

    tracemalloc.start()
    try:
        f = Flow(SessionBuilder(payloads=PayloadStore()))
        f.ws_open(3, wsurl(sid=None))
        f.ws(3, S, OPEN4)
        f.ws(3, C, "40")
        f.ws(3, S, '40{"sid":"abc"}')
        for i in range(400):
            f.ws(3, C, f'451-["upload",{i},{PH0}]')
            f.ws(3, C, bytes([i % 251]) * 65536)
        out_path = tmp_path / "doc.json"
        with out_path.open("w", encoding="utf-8", errors="backslashreplace") as out:
            writer = StreamingJsonWriter(out)
            f.b.finish(writer.session)
            writer.finish(Analysis(CaptureInfo("x", "pcap")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak / 1e6:.1f} MB traced while the session was read, analysed and written"
    doc = json.loads(out_path.read_text(encoding="utf-8"))
    (session,) = doc["engineio_sessions"]
    events = [p for p in session["socketio"]["packets"] if p["event"] == "upload"]
    assert [e["args"][0] for e in events] == list(range(400))
    assert all(e["args"][1] == {"$hex": (bytes([i % 251]) * 65536).hex()} for i, e in enumerate(events))
    binary = [p for p in session["packets"] if p["binary"]]
    assert len(binary) == 400 and binary[7]["data_hex"] == (bytes([7]) * 65536).hex()
