"""A capture that lost packets (tcpdump drops them under load): a whole polling response missing
from the capture must not shift every later request/response pair of its connection."""

from __future__ import annotations

from typing import Any

from analyzer.capture.pcapfile import open_capture
from analyzer.pipeline import analyze_packets
from tests.conftest import CAPTURES

CAPTURE = CAPTURES / "sio-python-polling-only.pcap"
LOST = {44, 45, 46}  # the whole response to the long-poll GET of packet 38 (a binary event)


def _pairs(doc: dict[str, Any]) -> dict[int, int | None]:
    """request packet -> response packet, over every connection."""
    out: dict[int, int | None] = {}
    for c in doc["connections"]:
        for x in c["http"]:
            if x["request"] is not None:
                out[x["request"]["frame"]] = x["response"]["frame"] if x["response"] else None
    return out


def test_a_lost_polling_response_leaves_the_other_pairs_alone() -> None:
    packets = list(open_capture(str(CAPTURE)))
    whole = analyze_packets(packets).to_dict()
    lossy = analyze_packets([p for p in packets if p.frame not in LOST]).to_dict()

    expected = _pairs(whole)
    assert expected[38] == 46
    expected[38] = None
    assert _pairs(lossy) == expected

    for c in lossy["connections"]:  # the lost exchange is listed in its place, not at the end
        frames = [x["request"]["frame"] for x in c["http"]]
        assert frames == sorted(frames)

    codes = [a["code"] for a in lossy["anomalies"]]
    assert "eio.concurrent-poll" not in codes and "http.response-without-request" not in codes
    lost = [a for a in lossy["anomalies"] if a["code"] == "http.response-lost"]
    assert [a["message"] for a in lost] == ["the response to request #3 (GET) was in a capture gap"]

    # the session keeps every Engine.IO packet but those the lost response carried
    def eio(doc: dict[str, Any]) -> list[tuple[int, str, str | None]]:
        return [(p["frame"], p["type"], p["data"]) for p in doc["engineio_sessions"][0]["packets"]]

    assert eio(lossy) == [p for p in eio(whole) if p[0] not in LOST]
