"""The web UI's filter takes what the row table already holds (webui/rowfilter.py): for every row
of the bundled captures, each field read from the row columns (or from the connection's head)
has the value the record itself gives, so `ws.opcode == 8` answers as reading every record would."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from analyzer.query import FIELDS, Context, Subject, compile_filter
from tests.webui.conftest import CAPTURES
from webui.rowfilter import RowMatcher

NAMES = ("ws-python-websockets.pcap", "sio-node-v4-default.pcap", "sio-python-polling-upgrade.pcap")
CHECKED = ("layer", "direction", "frame", "connection", "length", "ws.opcode", "sio.type", "eio.type")
CARRIED = ("tcp.retransmissions", "tcp.client_port", "tcp.server_port", "tcp.end", "tcp.rtt_ms")


def _index(app: Flask, name: str) -> Any:
    store = app.extensions["socketscope.store"]
    entry = next(e for e in store.entries() if e.name == name)
    job = store.job(entry)
    job.done.wait(120)
    assert job.index is not None, job.error
    return job.index


@pytest.mark.parametrize("name", NAMES)
def test_row_fields_are_the_records_fields(real_app: Flask, name: str) -> None:
    assert (CAPTURES / name).exists()
    ix = _index(real_app, name)
    m = RowMatcher(ix, compile_filter("ws.opcode == 8"))
    t = ix.table
    seen: set[str] = set()
    for i in range(len(t)):
        fast = m.subject(i)
        src = t.src_of(i)
        if fast.kind in ("ws_msg", "ws_frame"):
            conn = ix.connections[src[1]]
            slow = Subject(fast.kind, rec=ix.record_at(src), ctx=Context(connection=conn))
            for f in CHECKED + CARRIED:
                assert FIELDS[f].value(fast) == FIELDS[f].value(slow), (name, i, f)
            seen.update(k for k in ("ws.opcode", "length") if fast.known and k in fast.known)
    if name.startswith("ws-"):
        assert seen == {"ws.opcode", "length"}


def test_opcode_filter_reads_no_record(real_app: Flask) -> None:
    ix = _index(real_app, NAMES[0])
    m = RowMatcher(ix, compile_filter("ws.opcode == 8 || length > 10"))
    subjects = [m.subject(i) for i in range(len(ix.table))]
    kept = [s for s in subjects if m.flt(s)]
    ws = [s for s in subjects if s.kind in ("ws_msg", "ws_frame")]
    assert kept and ws and all(s.rec is None for s in ws)  # answered from the row columns


ACK_NAMES = ("sio-node-v4-default.pcap", "sio-python-polling-upgrade.pcap", "sio-node-v4-msgpack.pcap")


@pytest.mark.parametrize("name", ACK_NAMES)
def test_ack_fields_are_the_records(real_app: Flask, name: str) -> None:
    """ack.latency_ms and ack.answered from the row table's ack columns equal what the record and
    its session's acks give (analyzer/query/fields.py), on every Socket.IO row."""
    from analyzer.query import acks_of
    from webui.docutil import as_dict

    ix = _index(real_app, name)
    m = RowMatcher(ix, compile_filter("ack.latency_ms > 0"))
    t = ix.table
    answered = 0
    for i in range(len(t)):
        fast = m.subject(i)
        if fast.kind != "sio":
            continue
        src = t.src_of(i)
        acks = acks_of(as_dict(ix.sessions[src[1]], "socketio"))
        slow = Subject("sio", rec=ix.record_at(src), ctx=Context(acks=acks))
        assert fast.known is not None and "ack.latency_ms" in fast.known
        for f in ("ack.latency_ms", "ack.answered"):
            assert FIELDS[f].value(fast) == FIELDS[f].value(slow), (name, i, f)
        answered += FIELDS["ack.answered"].value(fast) is True
        assert fast.rec is None  # no record read
    if name != "sio-python-polling-upgrade.pcap":
        assert answered > 0, name


FILTERS = (
    'payload contains "hello"',
    'payload contains "Hello"',
    'payload contains "probe" && layer == "websocket"',
    'payload contains "sid"',
    'payload contains "abc"',  # hex digits only: the index cannot answer it (binary payloads)
    'payload contains "ab"',  # two characters: no trigram
    'payload contains "zzzz-not-there"',
    'payload contains "line 01000"',  # past the 2048 characters a row has in the index
    'payload contains "LINE 01000"',
    'payload contains "01000: the quick" && !(payload contains "\\\\")',  # a backslash: no raw check
    'payload contains "\\"" && payload contains "message"',
    'payload contains "a" || payload contains "chat"',
    'payload contains "hello" || payload contains "line 01000" || payload contains "sid"',
    'payload contains "chat" || payload contains "probe" && layer == "websocket"',
    'payload contains "chat" || layer == "tcp"',
    '!(payload contains "chat")',
    "ack.latency_ms > 0.5",
    "ack.latency_ms <= 2 && ack.answered",
    "!ack.answered",
    'sio.type == "ACK" && ack.latency_ms >= 0',
)


@pytest.mark.parametrize("name", sorted(p.name for p in CAPTURES.glob("*.pcap*")))
def test_indexed_filter_keeps_what_the_scan_keeps(real_app: Flask, name: str) -> None:
    """With the text index narrowing `payload contains` and the ack columns answering the ack
    fields, every filter keeps exactly the rows the plain scan (every record read, no index) keeps."""
    from webui.index import Filters

    ix = _index(real_app, name)
    assert ix.search is not None
    for expr in FILTERS:
        fast = [r.id for r in ix.filter(Filters(expr=expr))]
        slow = [i for i in range(len(ix.table)) if _scan_keeps(ix, expr, i)]
        assert fast == slow, (name, expr)


def _scan_keeps(ix: Any, expr: str, i: int) -> bool:
    """The filter on row i with every field read from the record (no row column, no index)."""
    from analyzer.query import acks_of
    from webui.docutil import as_dict
    from webui.rowfilter import row_subject_kind

    t = ix.table
    src = t.src_of(i)
    kind, side = row_subject_kind(src[0])
    rec: Any = ix.record_at(src)
    if kind in ("sio", "eio"):
        ctx = Context(acks=acks_of(as_dict(ix.sessions[src[1]], "socketio")))
    else:
        conn = ix.connections[src[1]]
        ctx = Context(connection=conn)
        if kind == "tcp":
            rec = conn
        elif kind == "http":
            found = ix.container(src)
            rec = found[0][found[1]] if found is not None else {}
    return compile_filter(expr)(Subject(kind, rec=rec, ctx=ctx, side=side))
