"""The index the UI builds from the streamed pipeline (records on disk) is the index of the
whole analysis document held in memory: same rows, same records, same document."""

from __future__ import annotations

import json
import tracemalloc
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.pipeline import analyze_file
from tests.conftest import corpus_captures
from tests.webui.conftest import CAPTURES
from webui.index import LAYERS, Filters, Index
from webui.indexbuild import IndexBuilder
from webui.store import Job, _default_analyze

BUNDLED = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))
SHARED = corpus_captures()


def _frame_ts(path: Path) -> array[float]:
    return array("d", [p.ts for p in open_capture(str(path))])


def _both(path: Path) -> tuple[Index, Index]:
    in_memory = Index(analyze_file(str(path)).to_dict(), _frame_ts(path))
    streamed = _default_analyze(str(path), Job((str(path), 0, 0), 0))
    return in_memory, streamed


@pytest.mark.parametrize("cap", BUNDLED + SHARED, ids=lambda p: p.name)
def test_streamed_index_equals_the_in_memory_one(cap: Path) -> None:
    a, b = _both(cap)
    assert list(a.rows) == list(b.rows)
    for x, y in zip(a.rows, b.rows, strict=True):
        assert a.record(x) == b.record(y)
        assert a.ws_message_frames(x) == b.ws_message_frames(y)
        assert a.sio_eio_rows(x) == b.sio_eio_rows(y)
        assert a.carrier_rows(x) == b.carrier_rows(y)
    doc = json.loads("".join(b.json_pieces()))
    assert doc == json.loads("".join(a.json_pieces()))
    assert doc["connections"] == analyze_file(str(cap)).to_dict()["connections"]
    assert a.ws_frame_bytes == b.ws_frame_bytes and a.facets() == b.facets() and a.counts() == b.counts()
    # both come from the same builder: check its order against the rule itself (time, then layer)
    keys = [(r.ts, LAYERS.index(r.layer)) for r in b.rows]
    assert keys == sorted(keys) and [r.id for r in b.rows] == list(range(len(b.rows)))
    assert sum(b.counts().values()) == len(b.rows) == len({(r.src, r.kind, r.direction) for r in b.rows})


@pytest.mark.parametrize("cap", BUNDLED, ids=lambda p: p.name)
def test_text_search_finds_what_the_records_hold(cap: Path) -> None:
    """The search reads records from disk, skipping those whose raw text cannot match: the
    result is the one of a plain scan of every record."""
    ix = _default_analyze(str(cap), Job((str(cap), 0, 0), 0))
    needles = (
        "hello",
        "EVENT",
        "websocket",
        "é",
        '"',
        "\\",
        "1",
        "host:",
        "Host: 127",
        "ss",
        "k",
        " ",
        "a\tb",
    )
    for needle in needles:
        want = [
            r.id
            for r in ix.rows
            if needle.casefold() in r.summary.casefold() or needle.casefold() in ix.search_text(r).casefold()
        ]
        assert [r.id for r in ix.filter(Filters(text=needle))] == want, needle


def test_text_search_folds_case_beyond_ascii() -> None:
    """A raw scan of the records cannot rule out text whose case folding makes the needle
    (Python's str.casefold: "ß" -> "ss", KELVIN SIGN -> "k"): such records are checked in full."""
    doc = {
        "capture": {"first_ts": 1.0},
        "engineio_sessions": [
            {
                "sid": "s",
                "packets": [
                    {"direction": "c2s", "ts": 1.0 + i, "frame": i + 1, "type": "message", "data": text}
                    for i, text in enumerate(["Straße", "\u212aelvin", "plain", "STRASSE"])
                ],
            }
        ],
    }
    ix = Index(doc)
    assert [r.summary for r in ix.filter(Filters(text="ss"))] == ["4Straße", "4STRASSE"]
    assert [r.summary for r in ix.filter(Filters(text="kelvin"))] == ["4\u212aelvin"]


def test_records_go_to_disk_not_to_memory() -> None:
    """A long WebSocket conversation streamed into the builder: its frames and messages (20 MB
    of JSON) end up on disk; the heap keeps the row columns, not the records."""
    n = 5000

    def frames() -> Iterator[tuple[None, dict[str, Any]]]:
        for i in range(n):
            yield (
                None,
                {
                    "direction": "c2s" if i % 2 else "s2c",
                    "frame": i + 1,
                    "ts": 1.0 + i,
                    "fin": True,
                    "opcode": 2,
                    "masked": bool(i % 2),
                    "payload_length": 1000,
                    "length_form": "16-bit",
                    "payload_hex": f"{i:04x}" * 500,
                },
            )

    def messages() -> Iterator[tuple[None, dict[str, Any]]]:
        for i in range(n):
            yield (
                None,
                {
                    "direction": "c2s" if i % 2 else "s2c",
                    "ts": 1.0 + i,
                    "frame": i + 1,
                    "opcode": "binary",
                    "frames": 1,
                    "length": 1000,
                    "text": None,
                    "data_hex": f"{i:04x}" * 500,
                },
            )

    tracemalloc.start()
    try:
        b = IndexBuilder()
        b.add_connection({"id": 7, "tcp": {}, "websocket": {"handshake": None}}, (), frames(), messages())
        ix = Index.from_built(b.finish({"capture": {"first_ts": 1.0}}, []))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert ix.store.size > 4000 * n and len(ix.rows) == n
    assert held < 300 * n, held  # the document is 20 MB; a row costs ~130 bytes
    row = ix.rows[n - 1]
    assert ix.record(row)["data_hex"] == f"{n - 1:04x}" * 500
    assert [f["frame"] for f in ix.ws_message_frames(row)] == [row.frame]
    assert ix.ws_frame_bytes == (n * 4 + n // 2 * 4, n * 1000)
    assert [r.id for r in ix.filter(Filters(text="1387" * 3))] == [int("1387", 16)]


def test_numbers_no_column_can_hold_are_left_out() -> None:
    """A document's numbers come from captured data (a msgpack Socket.IO id is any 64-bit
    integer): out-of-range ones read as absent instead of breaking the index."""
    doc = {
        "connections": [{"id": 2**70, "tcp": {"handshake": {"syn_frame": 2**65, "ack_frame": 3}}}],
        "engineio_sessions": [
            {
                "sid": "x",
                "packets": [
                    {"type": "message", "frame": 2**80, "data": "4x", "connection": -5, "packets": [2**64, 7]}
                ],
                "socketio": {"packets": [{"type": "EVENT", "ack_id": 2**64 - 1, "frame": 1, "event": "e"}]},
            }
        ],
    }
    ix = Index(doc)
    by_kind = {r.kind: r for r in ix.rows}
    assert by_kind["SYN"].frame is None and by_kind["ACK"].frame == 3
    assert by_kind["message"].packets == (7,) and by_kind["message"].connection is None
    assert ix.record(by_kind["EVENT"])["ack_id"] == 2**64 - 1  # the record itself is as it was
