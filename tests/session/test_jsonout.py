"""The session templates of the streaming writer equal json.dumps(to_dict()) on every real session."""

from __future__ import annotations

import json
from pathlib import Path

import msgpack
import pytest

from analyzer import analyze_file
from analyzer.model.common import Direction
from analyzer.model.engineio import EioPacket, EioPacketType
from analyzer.model.session import EioPacketRecord, SioPacketRecord
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.session.jsonout import eio_packet_json, session_json, sio_packet_json
from tests.conftest import bundled_captures, corpus_captures


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("capture", corpus_captures() + bundled_captures(), ids=lambda p: p.name)
def test_session_json_equals_json_dumps(capture: Path) -> None:
    for s in analyze_file(str(capture)).engineio_sessions:
        assert session_json(s) == dumps(s.to_dict())


HOSTILE = ['say "hi"', "back\\slash", "tab\there", "nul\x00", "é✓😀", "\ud800", "", "</script>"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_escaped_like_json(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    for packet in (EioPacket(EioPacketType.MESSAGE, text), EioPacket(EioPacketType.MESSAGE, raw, True)):
        r = EioPacketRecord(Direction.C2S, 1.25, 7, "polling", 3, packet, 9, truncated=True)
        assert eio_packet_json(r) == dumps(r.to_dict())
    args = [text, {text: b"\x00\xff"}, 1.5, None, True]
    sio = SioPacket(SioPacketType.BINARY_EVENT, text, 12, args, True, 1, text, binary_values=True)
    sr = SioPacketRecord(Direction.S2C, 2.5, 8, "websocket", 4, sio, (8, 9), complete=False)
    assert sio_packet_json(sr) == dumps(sr.to_dict())
    ack = SioPacket(SioPacketType.ACK, "/", 3, [text], True)
    ar = SioPacketRecord(Direction.C2S, 3, 10, "websocket", 4, ack)
    assert sio_packet_json(ar) == dumps(ar.to_dict())


def _deep(levels: int) -> object:
    value: object = b"\x01"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "args",
    [
        [b"", bytearray(b"\x02"), (1, 2.5, -0.0, 10**30)],
        [{"nan": float("nan"), "inf": [float("-inf")]}],
        [{1: "int key", "1": "string key"}, {b"k": 1}],
        [msgpack.ExtType(5, b"\x00\x01"), msgpack.Timestamp(1, 2)],
        [_deep(98), _deep(99), _deep(100), _deep(150)],
        [{}, [], "", None, True, False, {"a": {"b": {"$hex": "not from bytes \\" + '"'}}}],
    ],
    ids=["bytes-tuple-bigint", "nan", "keys", "msgpack", "depth", "empty"],
)
def test_values_that_need_to_jsonable_are_written_like_it(args: list[object]) -> None:
    for ptype in (SioPacketType.BINARY_EVENT, SioPacketType.BINARY_ACK):
        data = ["ev", *args] if ptype is SioPacketType.BINARY_EVENT else args
        p = SioPacket(ptype, "/", 1, data, True, 1, None, "msgpack", binary_values=True)
        r = SioPacketRecord(Direction.S2C, 2.5, 8, "websocket", 4, p, (8,))
        assert sio_packet_json(r) == dumps(r.to_dict())
