"""The template serializers of the streaming writer equal json.dumps on every real frame and message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer import analyze_file
from analyzer.model.common import Direction
from analyzer.model.records import WsMessageRecord
from analyzer.model.websocket import WsFrameRecord, frame_json, message_dict, message_json
from tests.conftest import bundled_captures, corpus_captures


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("capture", corpus_captures() + bundled_captures(), ids=lambda p: p.name)
def test_templates_equal_json_dumps(capture: Path) -> None:
    a = analyze_file(str(capture))
    for c in a.connections:
        if c.websocket is None:
            continue
        for f in c.websocket.frames:
            assert frame_json(f) == dumps(f.to_dict())
        for m in c.websocket.messages:
            assert message_json(m) == dumps(message_dict(m))


@pytest.mark.parametrize("text", ['say "hi"', "back\\slash", "tab\there", "nul\x00", "é✓😀", "\ud800", ""])
def test_hostile_text_is_escaped_like_json(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    m = WsMessageRecord(0, Direction.S2C, 1.5, 3, "text", False, 1, raw, len(raw))
    assert message_json(m) == dumps(message_dict(m))
    f = WsFrameRecord(
        Direction.C2S,
        4,
        2.25,
        True,
        False,
        False,
        False,
        8,
        True,
        b"abcd",
        2 + len(raw),
        "7-bit",
        b"\x03\xe8" + raw,
        False,
        1000,
        text,
        (4,),
        0,
    )
    assert json.loads(frame_json(f)) == json.loads(dumps(f.to_dict()))
    assert frame_json(f) == dumps(f.to_dict())
