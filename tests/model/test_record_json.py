"""The JSON of the WebSocket records (`to_json`, their only serializer): valid, compact JSON that
reads back to the captured values, whatever the captured text holds."""

from __future__ import annotations

import json

import pytest

from analyzer.model.common import Direction
from analyzer.model.records import WsMessageRecord
from analyzer.model.websocket import WsFrameRecord

HOSTILE = ['say "hi"', "back\\slash", "tab\there", "nul\x00", "é✓😀", "\ud800", "", "</script>"]


def strict_loads(text: str) -> object:
    """json.loads without NaN / Infinity (JSON.parse rejects them)."""

    def reject(name: str) -> object:
        raise ValueError(name)

    return json.loads(text, parse_constant=reject)


def compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def frame(
    payload: bytes, opcode: int = 8, reason: str | None = None, mask: bytes | None = b"abcd"
) -> WsFrameRecord:
    return WsFrameRecord(
        Direction.C2S, 4, 2.25, True, False, False, False, opcode, mask is not None, mask,
        len(payload), "7-bit", payload, False, 1000 if opcode == 8 else None, reason, (3, 4), 17,
    )  # fmt: skip


@pytest.mark.parametrize("text", HOSTILE)
def test_message_text_reads_back(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    m = WsMessageRecord(0, Direction.S2C, 1.5, 3, "text", False, 1, raw, len(raw), frames=(2, 3))
    out = m.to_json()
    d = strict_loads(out)
    assert isinstance(d, dict)
    assert out == compact(d)  # what json.dumps writes for the same values
    valid = text != "\ud800"  # a lone surrogate is not UTF-8: the message is written as hex
    assert (d["text"], d["data_hex"]) == ((text, None) if valid else (None, raw.hex()))
    assert d["packets"] == [2, 3] and d["frames"] == 1 and d["ts"] == 1.5
    assert m.to_dict() == d


def test_message_cut_text_and_binary() -> None:
    cut = "é".encode()[:1]
    m = WsMessageRecord(0, Direction.C2S, 1.0, 1, "text", False, 1, b"ab" + cut, 10, truncated=True)
    assert m.to_dict()["text"] == "ab"  # a cut text message keeps its whole characters
    b = WsMessageRecord(0, Direction.C2S, 1.0, 1, "binary", True, 2, b"\x00\xff" * 50_000, 100_000)
    d = b.to_dict()
    assert (d["text"], d["data_hex"], d["compressed"]) == (None, "00ff" * 50_000, True)


@pytest.mark.parametrize("text", HOSTILE)
def test_close_reason_reads_back(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    f = frame(b"\x03\xe8" + raw, reason=text)
    out = f.to_json()
    d = strict_loads(out)
    assert isinstance(d, dict)
    assert out == compact(d)
    assert d["close_reason"] == text and d["close_code"] == 1000
    assert d["payload_hex"] == (b"\x03\xe8" + raw).hex() and d["mask_key"] == "61626364"
    assert f.to_dict() == d


def test_data_frame_of_a_whole_message_leaves_its_payload_to_the_message() -> None:
    f = frame(b"x" * 70_000, opcode=2, mask=None)
    d = f.to_dict()
    assert (d["payload_hex"], d["payload_in_message"], d["mask_key"]) == (None, True, None)
    f.rsv1 = True  # compressed: the frame's bytes are not the message's
    assert f.to_dict()["payload_hex"] == "78" * 70_000
