"""A Socket.IO packet's "args" and "data" written by the exports as the document's JSON text
(TalliedSpill.parts, streamsel.sio_entries) give the same bytes as decoding the packet and
encoding it again: the JSON Lines line, the CSV row and the `--events` line."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.export.csvout import sio_row
from analyzer.export.jsonl import json_line, sio_line, sio_record
from analyzer.export.text.sessions import session_event_lines
from analyzer.model.common import Direction
from analyzer.model.session import SioPacketRecord
from analyzer.model.session_json import SIO_DATA_KEY, sio_packet_fields, sio_packet_pieces
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.model.spill import TalliedSpill

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30) | st.sampled_from(
    ['say "hi"', "back\\slash", "nul\x00\x1f", "\x85\u2028\u2029", "é✓😀", "</script>", ""]
)
_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | _TEXT
)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)
_TYPES = [SioPacketType.EVENT, SioPacketType.ACK, SioPacketType.CONNECT, SioPacketType.DISCONNECT]


def _record(ptype: SioPacketType, data: Any, i: int) -> SioPacketRecord:
    p = SioPacket(ptype, "/ns", i if i % 2 else None, data, data is not None)
    direction = Direction.C2S if i % 3 else Direction.S2C
    return SioPacketRecord(direction, 1.5 + i, 10 + i, "websocket", 2, p, (10 + i,))


def _compare(records: list[SioPacketRecord]) -> TalliedSpill:
    spill = TalliedSpill()
    for r in records:
        spill.add_parts(*sio_packet_pieces(r, {}))
    assert spill.has_parts
    entries = list(spill.parts())
    assert len(entries) == len(records)
    decoded = [(json.loads(r.to_json()), None, None) for r in records]
    for r, (head, args, data, tail), (d, _, _) in zip(records, entries, decoded, strict=True):
        assert head + args + SIO_DATA_KEY + data + tail == r.to_json()
        fields = sio_packet_fields(head, tail)
        assert {**fields, "args": json.loads(args), "data": json.loads(data)} == d
        assert sio_line("s1", fields, args, data) == json_line(sio_record("s1", d))
        assert sio_row("s1", fields, args, data) == sio_row("s1", d)
    texts = [(sio_packet_fields(h, t), a, x) for h, a, x, t in entries]
    session: dict[str, Any] = {"sid": "s1"}
    sio: dict[str, Any] = {"acks": []}
    assert list(session_event_lines(session, sio, texts)) == list(session_event_lines(session, sio, decoded))
    return spill


@settings(max_examples=150)
@given(st.lists(st.tuples(st.sampled_from(_TYPES), st.lists(_VALUE, max_size=4)), min_size=1, max_size=6))
def test_text_and_decoded_give_the_same_output(packets: list[tuple[SioPacketType, list[Any]]]) -> None:
    records = []
    for i, (ptype, values) in enumerate(packets):
        data: Any = ["ev", *values] if ptype is SioPacketType.EVENT else values or None
        records.append(_record(ptype, data, i))
    _compare(records)


def test_packets_read_back_from_the_file() -> None:
    """Past the spill's memory (256 K characters), the pieces come back from its file."""
    big = "x" * 100_000
    records = [_record(SioPacketType.EVENT, ["ev", big + str(i), {"k": [1.5, i, "é"]}], i) for i in range(8)]
    _compare(records)


def test_no_parts_for_text_the_file_would_change() -> None:
    """A lone surrogate comes back from the file as its escape (longer): such a spill keeps no
    lengths, and the exports read its packets decoded."""
    spill = TalliedSpill()
    spill.add_parts(*sio_packet_pieces(_record(SioPacketType.EVENT, ["ev", "ok"], 1), {}))
    assert spill.has_parts
    spill.add_parts(*sio_packet_pieces(_record(SioPacketType.EVENT, ["ev", "\ud800"], 2), {}))
    assert not spill.has_parts
    other = TalliedSpill()
    other.add_json('{"a":1}')  # written another way: no lengths either
    assert not other.has_parts
