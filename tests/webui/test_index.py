"""The index over the analysis document: rows, filters and the links down the OSI stack."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.webui.conftest import synthetic_index
from tests.webui.synthetic import EVIL, EVIL_EVENT, EVIL_NSP, T0, synthetic_doc
from webui.detail import build_detail
from webui.index import Filters, Index, eio_summary, sio_summary


def test_rows_cover_every_layer_in_time_order() -> None:
    ix = synthetic_index()
    counts = ix.counts()
    # 2 connections x (SYN, SYN-ACK, ACK, 2 FIN) = 10 TCP rows; 5 HTTP messages; 11 WebSocket
    # messages + 4 control frames (ping, pong, 2 closes); 14 Engine.IO and 6 Socket.IO packets.
    assert counts == {"tcp": 10, "http": 6, "websocket": 15, "engineio": 14, "socketio": 6}
    ts = [r.ts for r in ix.rows]
    assert ts == sorted(ts)
    assert [r.id for r in ix.rows] == list(range(len(ix.rows)))
    first = ix.rows[0]
    assert (first.layer, first.kind, first.direction, first.frame, first.ts) == ("tcp", "SYN", "c2s", 1, T0)


def test_summaries_are_the_wire_forms() -> None:
    # EIO v4 "Encoding": type digit then data; a probe ping is "2probe", an upgrade "5".
    assert eio_summary({"type": "ping", "data": "probe"}) == "2probe"
    assert eio_summary({"type": "upgrade", "data": None}) == "5"
    assert eio_summary({"type": "message", "data": '2["chat"]'}) == '42["chat"]'
    assert eio_summary({"type": "message", "binary": True, "data_hex": "0102"}).startswith(
        "binary message [2 B]"
    )
    s = sio_summary({"type": "EVENT", "nsp": "/admin", "event": "chat", "args": ["hi"], "ack_id": 3})
    assert s == 'EVENT /admin "chat" ["hi"] ack 3'


def test_filters_narrow_the_rows() -> None:
    ix = synthetic_index()
    total = len(ix.rows)
    c2s = list(ix.filter(Filters(direction="c2s")))
    s2c = list(ix.filter(Filters(direction="s2c")))
    assert len(c2s) + len(s2c) == total  # every row of the synthetic capture has a direction
    assert all(r.direction == "c2s" for r in c2s)
    events = list(ix.filter(Filters(layer="socketio", kind="event")))
    assert [r.event for r in events] == ["chat", EVIL_EVENT, "hello"]
    assert [r.event for r in ix.filter(Filters(nsp=EVIL_NSP))] == ["hello"]
    assert [r.kind for r in ix.filter(Filters(event="upload"))] == ["BINARY_EVENT"]
    found = list(ix.filter(Filters(layer="socketio", text="pwned=1")))
    assert [r.event for r in found] == ["chat"]
    assert list(ix.filter(Filters(text="no such text anywhere"))) == []
    assert {r.connection for r in ix.filter(Filters(connection=0))} == {0}
    window = list(ix.filter(Filters(t0=0.095, t1=0.135)))
    assert [r.kind for r in window] == ["SYN", "SYN-ACK", "ACK"]


def test_page_counts_and_slices() -> None:
    ix = synthetic_index()
    total, page = ix.page(Filters(), 5, 7)
    assert total == len(ix.rows)
    assert [r.id for r in page] == list(range(5, 12))
    total, page = ix.page(Filters(layer="socketio"), 4, 10)
    assert total == 6 and len(page) == 2


def test_filters_from_untrusted_args() -> None:
    f = Filters.from_args(
        {"direction": "sideways", "layer": "<x>", "connection": "9" * 40, "t0": "nan", "q": " a "}
    )
    assert f.direction is None and f.layer is None and f.connection is None and f.t0 is None
    assert f.text == "a"
    assert Filters.from_args(f.to_args()) == f


def _row(ix: Index, layer: str, **want: Any) -> Any:
    for r in ix.rows:
        if r.layer == layer and all(getattr(r, k) == v for k, v in want.items()):
            return r
    raise AssertionError(f"no {layer} row with {want}")


def test_socketio_packet_links_to_its_engineio_packets() -> None:
    ix = synthetic_index()
    chat = _row(ix, "socketio", event="chat")
    eio = ix.sio_eio_rows(chat)
    assert [(r.kind, r.frame) for r in eio] == [("message", 21)]
    # A binary event is its text packet plus one binary message per attachment (Socket.IO v5).
    upload = _row(ix, "socketio", event="upload")
    eio = ix.sio_eio_rows(upload)
    assert [(r.frame, ix.record(r)["binary"]) for r in eio] == [(27, False), (28, True)]
    connect = _row(ix, "socketio", kind="CONNECT")
    assert [
        (r.transport if hasattr(r, "transport") else ix.record(r)["transport"], r.frame)
        for r in ix.sio_eio_rows(connect)
    ] == [("polling", 8)]


def test_engineio_packet_links_to_its_carrier() -> None:
    ix = synthetic_index()
    ws_eio = _row(ix, "engineio", frame=21)
    carriers = ix.carrier_rows(ws_eio)
    assert [(c.layer, c.kind, c.frame) for c in carriers] == [("websocket", "text", 21)]
    polling = _row(ix, "engineio", kind="open")
    carriers = ix.carrier_rows(polling)
    assert [(c.layer, c.kind, c.frame) for c in carriers] == [("http", "response", 6)]


def test_fragmented_message_frames() -> None:
    ix = synthetic_index()
    msg = _row(ix, "websocket", kind="text", frame=21)
    frames = ix.ws_message_frames(msg)
    # RFC 6455 §5.4: a text frame with FIN=0, then a continuation with FIN=1.
    assert [(f["opcode"], f["fin"], f["frame"]) for f in frames] == [(1, False, 20), (0, True, 21)]


def test_detail_stack_goes_down_to_the_packets() -> None:
    ix = synthetic_index()
    chat = _row(ix, "socketio", event="chat")
    asked: list[list[int]] = []

    def load(frames: list[int]) -> list[dict[str, Any]]:
        asked.append(frames)
        return []

    d = build_detail(ix, chat, load)
    assert [s["layer"] for s in d["sections"]] == ["socketio", "engineio", "websocket"]
    assert d["sections"][2]["table"]["rows"][0][2:5] == ["0", "000", "1 (text)"]
    assert asked == [[20, 21]]
    assert d["frames"] == [20, 21]


def test_rows_for_frame() -> None:
    ix = synthetic_index()
    assert {(r.layer, r.kind) for r in ix.rows_for_frame(28)} == {
        ("websocket", "binary"),
        ("engineio", "message"),
        ("socketio", "BINARY_EVENT"),
    }


def test_empty_and_partial_documents() -> None:
    for doc in (
        {},
        {"connections": None},
        {"connections": [{"id": 0}]},
        {"engineio_sessions": [{"packets": [{}]}]},
    ):
        ix = Index(doc)
        assert ix.page(Filters(text="x"), 0, 10)[0] >= 0
        for r in ix.rows:
            build_detail(ix, r, None)


def test_captured_strings_stay_data() -> None:
    ix = synthetic_index()
    assert any(EVIL in ix.search_text(r) for r in ix.rows if r.layer == "socketio")
    assert synthetic_doc()["engineio_sessions"][0]["sid"].startswith("<svg")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
_keys = st.sampled_from(
    [
        "id",
        "frame",
        "ts",
        "direction",
        "type",
        "opcode",
        "packets",
        "data",
        "binary",
        "socketio",
        "websocket",
        "messages",
        "frames",
        "http",
        "request",
        "response",
        "tcp",
        "handshake",
        "connection",
        "fin",
        "attachments",
    ]
)
_doc_like = st.recursive(
    _json,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=int(os.environ.get("SOCKETSCOPE_FUZZ_EXAMPLES", "150")), deadline=None)
@given(conns=st.lists(_doc_like, max_size=3), sessions=st.lists(_doc_like, max_size=2), anomalies=_doc_like)
def test_never_raises_on_odd_documents(conns: list[Any], sessions: list[Any], anomalies: Any) -> None:
    from webui import figures, latencies

    doc = {"connections": conns, "engineio_sessions": sessions, "anomalies": anomalies, "capture": {}}
    ix = Index(doc)
    list(ix.filter(Filters(text="a", kind="x")))
    for r in ix.rows:
        build_detail(ix, r, None)
        ix.rows_for_frame(r.frame or 0)
    figures.timeline_figure(ix)
    figures.osi_figure(ix)
    latencies.latency_figures(ix)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


_SYNTH_PATHS = _paths(synthetic_doc())


@settings(max_examples=int(os.environ.get("SOCKETSCOPE_FUZZ_EXAMPLES", "150")), deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, len(_SYNTH_PATHS) - 1), _json), min_size=1, max_size=6))
def test_never_raises_on_a_mangled_real_document(edits: list[tuple[int, Any]]) -> None:
    """Replace random fields of the synthetic document with junk of any type."""
    from webui import figures, latencies

    doc: Any = synthetic_doc()
    for pi, junk in edits:
        path = _SYNTH_PATHS[pi]
        target = doc
        try:
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = junk
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced a parent
    ix = Index(doc)
    ix.facets()
    ix.page(Filters(text="x", nsp="/", event="chat"), 0, 50)
    for r in ix.rows:
        build_detail(ix, r, lambda frames: [])
        ix.search_text(r)
    figures.timeline_figure(ix)
    figures.osi_figure(ix)
    latencies.latency_figures(ix)
