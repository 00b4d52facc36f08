"""rawjson.ObjectFeed: JSON objects split anywhere across pieces come back whole, the chosen keys
as their JSON text; text that is not JSON objects is a ValueError at close."""

from __future__ import annotations

import json

import pytest

from analyzer.batch.rawjson import ObjectFeed

RECORDS = [
    {"frame": 12, "ts": 1.5, "args": [1, {"x": "é\n", "y": [True, None]}], "data": None, "n": -3e-7},
    {"frame": 130, "args": None, "data": {"k": 'v,"}'}, "s": "a\\"},
    {},
    {"args": "x"},
]
RAW = frozenset(("args", "data"))


def _compact(v: object) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _expected() -> list[dict[str, object]]:
    return [{k: _compact(v) if k in RAW else v for k, v in r.items()} for r in RECORDS]


def _feed(pieces: list[str]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    feed = ObjectFeed(RAW, out.append)
    for p in pieces:
        feed.append(p)
    feed.close()
    return out


def test_split_at_every_position() -> None:
    text = ",".join(_compact(r) for r in RECORDS)
    for cut in range(len(text) + 1):
        assert _feed([text[:cut], text[cut:]]) == _expected(), cut
    assert _feed(list(text)) == _expected()  # one character a piece


@pytest.mark.parametrize("bad", ['{"a":1', "[1,2]", '{"a" 1}', '{"a":1}x', '{"a":1,}'])
def test_not_objects(bad: str) -> None:
    with pytest.raises(ValueError):
        _feed([bad])
