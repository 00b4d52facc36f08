"""Bundled captures: what socketscope decodes equals what the applications sent and received.

Each capture in captures/ was recorded from real libraries by captures/make_captures.py, which
kept the applications' own record beside it (<name>.expected.json).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from analyzer import analyze_file
from tests.conftest import bundled_captures

CAPTURES = bundled_captures()


def expected(capture: Path) -> dict[str, Any]:
    return json.loads(capture.with_name(capture.name.split(".pcap")[0] + ".expected.json").read_text())


def test_every_capture_has_its_record() -> None:
    assert len(CAPTURES) >= 8
    for c in CAPTURES:
        assert expected(c)["scenario"]
        assert c.stat().st_size < 1_000_000, f"{c.name} must stay well under 1 MB"


WS_CAPTURES = [
    c for c in CAPTURES if expected(c).get("websocket") and expected(c)["websocket"].get("messages")
]


@pytest.mark.parametrize("capture", WS_CAPTURES, ids=lambda p: p.name)
def test_websocket_messages_equal_the_applications_record(capture: Path) -> None:
    want = expected(capture)["websocket"]
    a = analyze_file(str(capture))
    ws_conns = [c for c in a.connections if c.websocket is not None]
    assert len(ws_conns) == want.get("connections", 1)
    got = [m for c in ws_conns for m in c.websocket.messages]
    assert len(got) == len(want["messages"])
    for i, (m, w) in enumerate(zip(got, want["messages"], strict=True)):
        assert m.direction.value == w["direction"], f"message {i}: direction"
        assert m.opcode == w["opcode"], f"message {i}: opcode"
        assert m.length == w["length"], f"message {i}: length"
        assert not m.truncated
        assert hashlib.sha256(m.data).hexdigest() == w["sha256"], f"message {i}: payload"
    close = ws_conns[-1].websocket.close
    for d in ("c2s", "s2c"):
        w = want.get("close", {}).get(d)
        if w is not None:
            assert close[d] is not None, f"close {d}"
            assert (close[d]["code"], close[d]["reason"] or "") == (w["code"], w.get("reason") or ""), d
    hs = want.get("handshake")
    if hs:
        got_hs = ws_conns[0].websocket.handshake
        assert got_hs["subprotocol"] == hs.get("subprotocol")
        assert (got_hs["extensions"] or None) == (hs.get("extensions") or None)
    errors = [x for x in a.anomalies if x.severity.value == "error"]
    assert errors == [], "real library traffic must not raise protocol errors"
