"""H4 of PROTOCOLS.md (RFC 6455 §4.1): frames before the 101 (ws.handshake-early-data) and frames
on a connection whose upgrade was refused (ws.handshake-not-101), through the whole pipeline."""

from __future__ import annotations

from pathlib import Path

from analyzer import analyze_file
from analyzer.model.analysis import Analysis
from analyzer.model.common import Direction
from tests.crafted_captures import (
    EARLY,
    REQ,
    RESP,
    Capture,
    Tcp,
    cframe,
    conversation,
    http_response,
    upgrade_request,
    upgrade_response,
)


def run(tmp_path: Path, cap: Capture) -> Analysis:
    path = tmp_path / "x.pcap"
    path.write_bytes(cap.pcap())
    return analyze_file(str(path))


def codes(a: Analysis) -> list[str]:
    return [x.code for x in a.anomalies]


def test_frames_before_the_101_are_early_data_and_still_decoded(tmp_path: Path) -> None:
    a = run(tmp_path, conversation([("c", EARLY), ("s", upgrade_response())]))
    [early] = [x for x in a.anomalies if x.code == "ws.handshake-early-data"]
    request_packet = a.connections[0].tcp["handshake"]["ack_frame"] + 1  # request and frame together
    assert (early.connection, early.direction, early.frames) == (0, Direction.C2S, (request_packet,))
    assert early.message == (
        f"the client sent {len(EARLY) - len(upgrade_request())} bytes after its upgrade request "
        "before the 101 response"
    )
    ws = a.connections[0].websocket
    assert ws is not None and [m.data for m in ws.messages] == [b"too soon"]


def test_frames_after_the_101_are_not_early(tmp_path: Path) -> None:
    cap = conversation([("c", upgrade_request()), ("s", upgrade_response()), ("c", cframe(b"in time"))])
    a = run(tmp_path, cap)
    assert "ws.handshake-early-data" not in codes(a)


def test_a_frame_in_the_same_segment_as_the_101_answer_is_not_early(tmp_path: Path) -> None:
    """The client's frame comes after the 101 in capture order, in a later packet."""
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    tcp.data("c", upgrade_request())
    tcp.data("s", upgrade_response() + b"\x81\x02hi")
    tcp.data("c", cframe(b"after"))
    assert "ws.handshake-early-data" not in codes(run(tmp_path, cap))


def test_frames_after_a_refused_upgrade(tmp_path: Path) -> None:
    refused = http_response(400, b"no", reason="Bad Request")
    a = run(tmp_path, conversation([("c", EARLY), ("s", refused)]))
    [not101] = [x for x in a.anomalies if x.code == "ws.handshake-not-101"]
    assert (not101.direction, not101.message) == (
        Direction.C2S,
        "the client sent WebSocket frames although its upgrade was answered 400",
    )
    assert a.connections[0].websocket is None


def test_http_after_a_refused_upgrade_is_not_a_frame(tmp_path: Path) -> None:
    refused = http_response(400, b"no", reason="Bad Request")
    a = run(tmp_path, conversation([("c", upgrade_request() + REQ), ("s", refused + RESP)]))
    assert codes(a) == []
    assert [x.request.target for x in a.connections[0].http if x.request] == ["/chat", "/index.html"]
