"""The filter language (analyzer/query): grammar, types, errors with their column, bounds."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.query import (
    FIELDS,
    MAX_FILTER_CHARS,
    PAYLOAD_SCAN_CHARS,
    Context,
    FilterError,
    FilterRunError,
    Subject,
    acks_of,
    compile_filter,
)

EVENT = {
    "direction": "c2s",
    "frame": 24,
    "connection": 0,
    "transport": "websocket",
    "type": "EVENT",
    "nsp": "/",
    "ack_id": 1,
    "event": "chat",
    "data": ["chat", "hello", {"n": 3}],
    "attachments": 0,
}
ACK = {**EVENT, "direction": "s2c", "frame": 25, "type": "ACK", "event": None, "data": ["ok"]}
ACKS = acks_of({"acks": [{"nsp": "/", "ack_id": 1, "request_direction": "c2s", "latency_ms": 250.5}]})
CONN = {
    "id": 3,
    "client": {"port": 5000},
    "server": {"port": 80},
    "tcp": {"retransmissions": 2, "end": "rst"},
}
MESSAGE = {
    "direction": "s2c",
    "frame": 40,
    "opcode": "text",
    "length": 11,
    "text": "token=abc12",
    "compressed": True,
}


def keeps(text: str, subject: Subject) -> bool:
    return compile_filter(text)(subject)


def sio(p: dict[str, object]) -> Subject:
    return Subject("sio", p, Context(sid="S1", acks=ACKS))


def test_the_issue_examples() -> None:
    assert keeps('sio.event == "chat" && ack.latency_ms > 200', sio(EVENT))
    assert not keeps('sio.event == "chat" && ack.latency_ms > 300', sio(EVENT))
    assert keeps("ack.latency_ms > 200 and ack.answered", sio(ACK))  # the ACK knows its latency too
    close = Subject("ws_frame", {"opcode": 8, "close_code": 1000, "close_reason": "bye"})
    assert keeps("ws.opcode == 8", close) and keeps("ws.close_code == 1000", close)
    msg = Subject("ws_msg", MESSAGE, Context(connection=CONN))
    assert keeps("tcp.retransmission", msg) and keeps('tcp.end == "rst" && tcp.server_port == 80', msg)
    assert keeps('payload contains "token"', msg) and keeps("ws.opcode == 1 && ws.compressed", msg)
    assert keeps('anomaly.severity == "error"', Subject("anomaly", {"severity": "error", "message": "x"}))
    assert keeps('sio.event matches "^ch"', sio(EVENT)) and not keeps('sio.event matches "^h"', sio(EVENT))
    assert keeps('payload matches "\\\\{\\"n\\":\\\\d\\\\}"', sio(EVENT))  # \{"n":\d\} in the JSON text


def test_logic_and_absent_fields() -> None:
    assert keeps('!(sio.event == "x") && (ws.opcode == 1 || sio.nsp == "/")', sio(EVENT))
    assert keeps('sio.type in {"ACK", "BINARY_ACK"}', sio(ACK)) and not keeps(
        'sio.type in {"EVENT"}', sio(ACK)
    )
    assert keeps("frame >= 24 && frame < 25.5 && connection == 0x0", sio(EVENT))
    msg = Subject("ws_msg", MESSAGE)
    assert not keeps('sio.event == "chat"', msg)  # a field the record has not: false
    assert not keeps('sio.event != "chat"', msg)
    assert keeps('!(sio.event == "chat")', msg) and keeps("!sio.event", msg)
    assert keeps("sio.event", sio(EVENT)) and not keeps("sio.event", sio(ACK))  # present (None: absent)
    assert not keeps("tcp.retransmission", msg)  # no connection in the context
    assert keeps('eio.sid == "S1" and not eio.type', sio(EVENT))


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        (
            'sio.event == "chat" && ack.latency_ms >',
            40,
            "expected a value after '>', found the end of the filter",
        ),
        ("ws.opcode == '8'", 14, "ws.opcode is a number, not a string"),
        ("ack.latency_ms > true", 18, "ack.latency_ms is a number, not a bool"),
        ('sio.event < "b"', 11, "'<' compares numbers; sio.event is a string"),
        ("ws.opcode contains 'a'", 11, "'contains' applies to text; ws.opcode is a number"),
        ("sio.evnt == 1", 1, "unknown field 'sio.evnt'"),
        ("event == 'chat'", 1, "unknown field 'event' (did you mean sio.event?)"),
        ("sio.event is 'chat'", 11, "unknown operator 'is'"),
        ("", 1, "the filter is empty"),
        ("(ws.opcode == 1", 16, "expected ')' to close the '(' at column 1"),
        ("ws.opcode == 1)", 15, "this ')' closes nothing"),
        ("ws.opcode == 1 ws.fin", 16, "expected '&&', '||' or the end of the filter"),
        ("sio.event == 'a", 14, "this string has no closing '"),
        ("ws.opcode & 1", 11, "'&' is not an operator: write '&&'"),
        ("ws.opcode == 1 | ws.fin", 16, "'|' is not an operator: write '||'"),
        ("ws.opcode == 8 #", 16, "unexpected character '#'"),
        ("ws.opcode in 1", 14, "expected '{' after 'in'"),
        ("ws.opcode in {1 2}", 17, "expected ',' or '}' in the set"),
        ("ws.fin in {true}", 8, "'in' needs a string or number field"),
        ('tcp.end == "closed"', 12, "tcp.end is one of fin, rst, open, never 'closed'"),
        ("ws.opcode == 1e999", 14, "is not a finite number"),
        ("&& ws.fin", 1, "expected a field name, found '&&'"),
        ('payload matches "a{2,1}"', 20, "this pattern is not a regular expression"),
        ('payload matches "\\x41(a"', 17, "this pattern is not a regular expression"),
    ],
)
def test_errors_point_at_the_column(text: str, column: int, message: str) -> None:
    with pytest.raises(FilterError) as exc:
        compile_filter(text)
    assert exc.value.column == column, str(exc.value)
    assert str(exc.value).startswith(f"filter: column {column}: ")
    assert message in str(exc.value)
    caret = exc.value.caret().split("\n")
    assert caret[1].index("^") == 2 + column - 1


def test_bounds() -> None:
    with pytest.raises(FilterError, match="at most 2000 characters"):
        compile_filter("ws.fin || " * (MAX_FILTER_CHARS // 10) + "ws.fin")
    with pytest.raises(FilterError, match="nests deeper than 64"):
        compile_filter("!" * 100 + "ws.fin")
    with pytest.raises(FilterError, match="a pattern is at most 256 characters"):
        compile_filter(f'payload matches "{"a" * 300}"')
    # contains and matches read the first PAYLOAD_SCAN_CHARS characters of a payload
    far = Subject("ws_msg", {"opcode": "text", "text": "x" * PAYLOAD_SCAN_CHARS + "needle"})
    near = Subject("ws_msg", {"opcode": "text", "text": "x" * (PAYLOAD_SCAN_CHARS - 6) + "needle"})
    assert not keeps('payload contains "needle"', far) and keeps('payload contains "needle"', near)
    assert not keeps('payload matches "needle"', far) and keeps('payload matches "needle$"', near)


def test_catastrophic_pattern_is_stopped() -> None:
    hostile = Subject("ws_msg", {"opcode": "text", "text": "a" * 60 + "!"})
    flt = compile_filter("payload matches '(a|aa)+$'")  # exponential backtracking
    started = time.monotonic()
    with pytest.raises(FilterRunError, match="took more than 50 ms on one record"):
        flt(hostile)
    assert time.monotonic() - started < 30  # bounded (not a timing assert: without it, it never ends)


def test_every_field_has_a_getter_and_a_type() -> None:
    for f in FIELDS.values():
        assert f.type in ("string", "number", "bool") and f.getters and f.doc
        assert compile_filter(f.name).fields == (f.name,)


_ATOMS = st.sampled_from(
    [*FIELDS, "==", "!=", "<", ">=", "&&", "||", "!", "(", ")", "{", "}", ",", "in", "contains", "matches",
     '"chat"', "'x", "8", "-1.5", "0x1f", "true", "=", "&", "\\", '"\\u12"', "1e5", "not", "and"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_ATOMS, max_size=12), st.text(max_size=20))
def test_never_raises_anything_else(atoms: list[str], noise: str) -> None:
    for text in (" ".join(atoms), " ".join(atoms) + noise, noise):
        try:
            flt = compile_filter(text)
        except FilterError as exc:
            assert str(exc).startswith("filter: column ") and 1 <= exc.column <= len(text) + 1
            continue
        for s in (sio(EVENT), Subject("ws_msg", MESSAGE), Subject("anomaly", {}), Subject("tcp", {})):
            assert flt(s) in (True, False)


def test_docs_list_every_field() -> None:
    from pathlib import Path

    from analyzer.query.docs import fields_table

    docs = (Path(__file__).resolve().parents[2] / "docs" / "filters.md").read_text(encoding="utf-8")
    assert fields_table() in docs, "docs/filters.md: paste `python -m analyzer.query.docs`"


def test_required_substrings_are_those_every_kept_record_passes() -> None:
    """What an index may narrow by (webui/index.py): the `contains` tests of each top-level
    alternative's `&&` chain, none under a negation or in parentheses."""
    from analyzer.query import compile_filter

    def req(text: str) -> tuple[tuple[str, ...], ...]:
        return compile_filter(text).required_substrings("payload")

    assert req('payload contains "abc"') == (("abc",),)
    assert req('layer == "tcp" && payload contains "x" && payload contains "y"') == (("x", "y"),)
    assert req('payload contains "a" || sio.event == "b" && payload contains "c"') == (("a",), ("c",))
    assert req('payload contains "a" || layer == "tcp"') == (("a",), ())
    assert req('!(payload contains "abc")') == ((),)
    assert req('not payload contains "abc" && sio.nsp contains "abc"') == ((),)
    assert req('(payload contains "a" || payload contains "b") && layer == "tcp"') == ((),)
