"""The JSON of the session records (model/session_json.py, their only serializer): valid JSON that
reads back to what docs/analysis-json.md says of decoded values (`to_jsonable`: bytes as
{"$hex"}, msgpack ext/timestamp, NaN/Infinity as {"$float"}, keys as strings, depth cut), for
any value a hostile peer can make the decoders produce."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.model.common import Direction
from analyzer.model.engineio import EioPacket, EioPacketType
from analyzer.model.session import EioPacketRecord, SioPacketRecord
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.model.values import MAX_DEPTH, to_jsonable
from analyzer.protocols.socketio import decode_sio_text
from tests.model.test_record_json import HOSTILE, compact, strict_loads


def documented(value: Any) -> Any:
    """What the document holds for a decoded value."""
    return json.loads(json.dumps(to_jsonable(value)))


def sio_record(ptype: SioPacketType, data: Any, **kw: Any) -> SioPacketRecord:
    p = SioPacket(ptype, kw.pop("nsp", "/"), kw.pop("ack_id", 1), data, True, 1, kw.pop("query", None), **kw)
    return SioPacketRecord(Direction.S2C, 2.5, 8, "websocket", 4, p, (8, 9), complete=False)


def read(r: EioPacketRecord | SioPacketRecord) -> dict[str, Any]:
    out = r.to_json()
    d = strict_loads(out)
    assert isinstance(d, dict)
    assert out == compact(d)  # compact, and what json.dumps writes for the same values
    assert r.to_dict() == d
    return d


@pytest.mark.parametrize("text", HOSTILE)
def test_engineio_packet(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    d = read(EioPacketRecord(Direction.C2S, 1.25, 7, "polling", 3, EioPacket(EioPacketType.MESSAGE, text), 9))
    assert (d["binary"], d["data"], d["data_hex"], d["size"]) == (False, text or None, None, 9)
    assert "b64" not in d and "truncated" not in d
    packet = EioPacket(EioPacketType.MESSAGE, raw + b"\x00" * 100_000, True)
    d = read(EioPacketRecord(Direction.C2S, 1.25, 7, "polling", 3, packet, 9, truncated=True))
    assert (d["binary"], d["data"], d["data_hex"]) == (True, None, raw.hex() + "00" * 100_000)
    assert d["b64"] is True and d["truncated"] is True


@pytest.mark.parametrize("text", HOSTILE)
def test_socketio_packet(text: str) -> None:
    args = [text, {text: b"\x00\xff"}, 1.5, None, True]
    r = sio_record(SioPacketType.BINARY_EVENT, [text, *args], nsp=text, query=text, binary_values=True)
    d = read(r)
    assert (d["type"], d["nsp"], d["event"], d["query"], d["ack_id"]) == ("BINARY_EVENT", text, text, text, 1)
    assert d["args"] == documented(args) and d["data"] == documented([text, *args])
    assert d["frames"] == [8, 9] and d["complete"] is False
    d = read(sio_record(SioPacketType.ACK, [text], ack_id=None))
    assert (d["args"], d["data"], d["event"], d["ack_id"]) == (None, [text], None, None)


def _deep(levels: int) -> object:
    value: object = b"\x01"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "args",
    [
        [b"", bytearray(b"\x02"), (1, 2.5, -0.0, 10**30), b"\xab" * (1 << 20)],
        [{"nan": float("nan"), "inf": [float("-inf")]}],
        [{1: "int key", "1": "string key"}, {b"k": 1, None: 2, True: 3}],
        [msgpack.ExtType(5, b"\x00\x01"), msgpack.Timestamp(1, 2), msgpack.Timestamp(2**62, 0)],
        [_deep(MAX_DEPTH - 2), _deep(MAX_DEPTH - 1), _deep(MAX_DEPTH), _deep(50_000)],
        [{}, [], "", None, True, False, {"a": {"b": {"$hex": "not from bytes \\" + '"'}}}],
    ],
    ids=["bytes-tuple-bigint-hugehex", "nan", "keys", "msgpack", "depth", "empty"],
)
def test_values_are_written_as_documented(args: list[object]) -> None:
    for ptype in (SioPacketType.BINARY_EVENT, SioPacketType.BINARY_ACK):
        data = ["ev", *args] if ptype is SioPacketType.BINARY_EVENT else args
        d = read(sio_record(ptype, data, parser="msgpack", binary_values=True))
        assert d["data"] == documented(data)
        assert d["args"] == (documented(args) if ptype is SioPacketType.BINARY_EVENT else None)


_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text()
    | st.binary(max_size=64)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8))
    | st.builds(msgpack.Timestamp, st.integers(0, 2**34 - 1), st.integers(0, 999_999_999))
)
_values = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4) | st.integers() | st.binary(max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(data=st.lists(_values, max_size=5), event=st.booleans(), flagged=st.booleans())
def test_any_decoded_value_is_written_as_documented(data: list[Any], event: bool, flagged: bool) -> None:
    ptype = SioPacketType.BINARY_EVENT if event else SioPacketType.BINARY_ACK
    d = read(sio_record(ptype, data, parser="msgpack", binary_values=flagged))
    assert d["data"] == documented(data)


def test_overflowing_json_number_is_written_as_documented() -> None:
    """JSON.parse reads 1e999 as Infinity, and so does the decoder: JSON has no such number."""
    packet, _ = decode_sio_text('2["ev",1e999,[-1e999],{"a":1e999}]', 5)
    assert packet is not None
    d = read(SioPacketRecord(Direction.C2S, 1.0, 1, "websocket", 0, packet))
    inf, ninf = {"$float": "inf"}, {"$float": "-inf"}
    assert d["args"] == [inf, [ninf], {"a": inf}] and d["data"] == ["ev", *d["args"]]
