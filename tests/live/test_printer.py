"""The live printer (the pipeline observer behind `socketscope live`), fed from the bundled captures.

What it prints as packets arrive is compared with what the applications themselves recorded
(captures/*.expected.json), not with socketscope's own final analysis.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import open_capture
from analyzer.export.text.live import LivePrinter
from analyzer.model.analysis import CaptureInfo
from analyzer.pipeline import CollectingSink, Options, Pipeline
from tests.conftest import bundled_captures

CAPTURES = bundled_captures()


def expected(cap: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        cap.with_name(cap.name.rsplit(".", 1)[0] + ".expected.json").read_text()
    )
    return result


def run(cap: Path, fmt: str = "jsonl") -> tuple[str, Any]:
    out = io.StringIO()
    printer = LivePrinter(out, fmt)
    collected = CollectingSink()
    pipe = Pipeline(CaptureInfo(str(cap), "pcap"), Options(observer=printer), collected)
    pipe.feed_all(open_capture(str(cap)))
    collected.finish(pipe.finish())
    return out.getvalue(), collected.analysis


SIO = [c for c in CAPTURES if expected(c).get("socketio")]
WS = [c for c in CAPTURES if expected(c).get("websocket")]


@pytest.mark.parametrize("cap", SIO, ids=lambda p: p.name)
def test_socketio_events_and_acks_as_the_applications_saw_them(cap: Path) -> None:
    text, _ = run(cap)
    lines = [json.loads(line) for line in text.splitlines()]
    sio = [e for e in lines if e["type"] == "sio_packet"]
    want = expected(cap)["socketio"]
    for d in ("c2s", "s2c"):
        got_events = [
            (e["nsp"], e["event"], e["data"][1:], e["ack_id"])
            for e in sio
            if e["packet"] in ("EVENT", "BINARY_EVENT") and e["direction"] == d
        ]
        want_events = [
            (e["nsp"], e["event"], e["args"], e["ack_id"]) for e in want["events"] if e["direction"] == d
        ]
        assert got_events == want_events, d
        got_acks = [
            (e["nsp"], e["ack_id"], e["data"])
            for e in sio
            if e["packet"] in ("ACK", "BINARY_ACK") and e["direction"] == d
        ]
        want_acks = [(e["nsp"], e["ack_id"], e["args"]) for e in want["acks"] if e["direction"] == d]
        assert got_acks == want_acks, d
    acks = [e for e in sio if e["packet"] in ("ACK", "BINARY_ACK")]
    assert acks and all(e["latency_ms"] is not None and e["latency_ms"] >= 0 for e in acks)
    # the connections: one open line each, with the handshake RTT when the SYN was captured
    opens = [e for e in lines if e["type"] == "tcp_open"]
    closes = [e for e in lines if e["type"] == "tcp_close"]
    assert len(opens) == len(closes) > 0


@pytest.mark.parametrize("cap", WS, ids=lambda p: p.name)
def test_websocket_messages_as_the_applications_saw_them(cap: Path) -> None:
    text, _ = run(cap)
    msgs = [json.loads(line) for line in text.splitlines() if '"ws_message"' in line]
    want = expected(cap)["websocket"]["messages"]
    assert [(m["direction"], m["opcode"], m["length"]) for m in msgs] == [
        (m["direction"], m["opcode"], m["length"]) for m in want
    ]


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: p.name)
def test_the_observer_does_not_change_the_analysis(cap: Path) -> None:
    from analyzer import analyze_file

    _, live = run(cap)
    a, b = live.to_dict(), analyze_file(str(cap)).to_dict()
    for doc in (a, b):
        doc["capture"].pop("path")
        doc["capture"].pop("format")
    assert a == b


def test_text_output_escapes_hostile_text() -> None:
    cap = next(c for c in CAPTURES if c.name == "xss-payloads.pcap")
    text, _ = run(cap, "text")
    assert "SIO" in text and "HTTP" in text
    for line in text.splitlines():
        assert all(ch.isprintable() for ch in line), line
    assert "\x1b" not in text


def test_text_lines_for_a_socketio_session() -> None:
    cap = next(c for c in CAPTURES if c.name == "sio-python-polling-upgrade.pcap")
    text, _ = run(cap, "text")
    kinds = [line.split()[2] for line in text.splitlines()]
    assert kinds[0] == "TCP"
    assert {"HTTP", "WS", "EIO", "SIO"} <= set(kinds)
    assert any("answers" in line and " ms " in line for line in text.splitlines())  # ack latency


@pytest.mark.parametrize("cap", SIO, ids=lambda p: p.name)
def test_live_socketio_packets_equal_the_final_analysis(cap: Path) -> None:
    """The live view decodes Socket.IO as it arrives (session/live.py), the analysis once the
    session is over, in capture order (session/sio.py): on these captures both give the same
    packets, with the same data, in the same order, and the same acknowledgements
    (docs/architecture.md "Live output" says when they may differ)."""
    text, analysis = run(cap)
    lines = [json.loads(line) for line in text.splitlines()]
    live = [e for e in lines if e["type"] == "sio_packet"]
    final = []
    acks = {}
    for s in analysis.engineio_sessions:
        if s.socketio is None:
            continue
        final += [(s.sid, p) for p in s.socketio.packets.to_list()]
        acks.update({(s.sid, a.nsp, a.ack_id, a.response_frame): a for a in s.socketio.acks})
    keys = ("ts", "connection", "direction", "transport", "nsp", "ack_id", "event", "data")
    assert live and [(e["session"], e["packet"], *(e[k] for k in keys)) for e in live] == [
        (sid, p["type"], *(p[k] for k in keys)) for sid, p in final
    ]
    answered = 0
    for e, (sid, p) in zip(live, final, strict=True):
        ack = acks.get((sid, p["nsp"], p["ack_id"], p["frame"]))
        if ack is None or p["type"] not in ("ACK", "BINARY_ACK"):
            assert e["latency_ms"] is None
            continue
        answered += 1
        assert ack.latency_ms is not None and e["latency_ms"] is not None
        # live: as the ACK's first packet was seen; the analysis: to its last attachment
        if p["attachments"]:
            assert e["latency_ms"] <= ack.latency_ms
        else:
            assert e["latency_ms"] == round(ack.latency_ms, 6)
    assert answered == sum(a.response_frame is not None for a in acks.values())
