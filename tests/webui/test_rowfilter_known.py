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
