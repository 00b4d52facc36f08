"""The depth bound of default-parser payloads: decided from the JSON text (brackets outside
strings) instead of walking the decoded tree; it must cut exactly where the walk would."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.model.codes import socketio as codes
from analyzer.model.values import MAX_DEPTH, map_tree
from analyzer.protocols.socketio import decode_sio_text

# strings full of brackets and escapes: they must not count as nesting
_TEXT = st.text(alphabet='[]{}"\\ab,:', max_size=12)


def _nest(kinds: list[bool], leaf: Any) -> Any:
    for is_list in reversed(kinds):
        leaf = [leaf, "]]"] if is_list else {"k[": leaf, "}": "{{"}
    return leaf


def _expected(value: Any) -> tuple[Any, bool]:
    return map_tree(value, lambda node: (False, None))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.booleans(), min_size=MAX_DEPTH - 3, max_size=MAX_DEPTH + 3),
    _TEXT,
    st.lists(st.integers(0, 3), max_size=4),
)
def test_cut_exactly_where_the_walk_cuts(kinds: list[bool], leaf: str, shallow: list[int]) -> None:
    deep = _nest(kinds, leaf)
    args = ["ev", deep, *[_nest([True] * n, leaf) for n in shallow]]
    packet, anomalies = decode_sio_text("2" + json.dumps(args))
    want, cut = _expected(args)
    assert packet is not None and packet.data == want
    assert any(a.code == codes.LIMIT_EXCEEDED for a in anomalies) is cut
    assert cut is (len(kinds) + 1 > MAX_DEPTH)  # the args array is one level


def test_brackets_inside_strings_do_not_hide_depth() -> None:
    closers = '"' + "]" * 300 + '"'
    text = "2[" + closers + "," + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "]"
    packet, anomalies = decode_sio_text(text)
    assert packet is not None
    assert [a.code for a in anomalies] == [codes.LIMIT_EXCEEDED]


def test_many_shallow_containers_are_not_cut() -> None:
    rows = [{"id": i, "tags": ["a", "b"], "pos": {"x": [i]}} for i in range(500)]
    packet, anomalies = decode_sio_text("2" + json.dumps(["state", {"rows": rows}]))
    assert packet is not None and anomalies == []
    assert packet.data == ["state", {"rows": rows}]
