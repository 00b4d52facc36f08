"""Every bundled capture through the whole web UI, analyzed for real by the pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.webui.conftest import CAPTURES, capture_id, rows
from webui.store import CaptureStore

BUNDLED = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))
PAGES = ["", "timeline", "sequence", "messages", "latency", "anomalies", "messages/0", "packets?frames=1"]
APIS = [
    "analysis",
    "anomalies",
    "sessions",
    "messages",
    "figures/timeline",
    "figures/osi",
    "latency",
    "overview",
    "messages/0",
    "packets?frames=1-3",
    "sequence?connection=0",
]


@pytest.mark.parametrize("cap", BUNDLED, ids=lambda p: p.name)
def test_every_page_and_api(real: FlaskClient, cap: Path) -> None:
    cid = capture_id(real, cap.name)
    for page in PAGES:
        r = real.get(f"/c/{cid}/{page}")
        assert r.status_code == 200, (page, r.get_data(as_text=True)[-800:])
    for api in APIS:
        r = real.get(f"/api/captures/{cid}/{api}")
        assert r.status_code == 200, (api, r.get_data(as_text=True)[:800])
    for item in rows(real, cid)[:300]:
        assert real.get(f"/c/{cid}/messages/{item['id']}").status_code == 200


def _index(cap: Path) -> Any:
    s = CaptureStore(files=[str(cap)])
    job, ix = s.index(s.entries()[0], wait=120)
    assert ix is not None, job.status() if job else None
    return ix


def _expected(cap: Path) -> dict[str, Any]:
    return dict(json.loads(cap.with_suffix(".expected.json").read_text(encoding="utf-8")))


SIO_CAPTURES = [
    p for p in BUNDLED if p.with_suffix(".expected.json").exists() and _expected(p).get("socketio")
]


@pytest.mark.parametrize("cap", SIO_CAPTURES, ids=lambda p: p.name)
def test_socketio_rows_match_what_the_applications_saw(cap: Path) -> None:
    """The Socket.IO events of the messages view, per direction in wire order, are the ones the
    scenario's own handlers recorded (captures/README.md: the record is not a dissector's output)."""
    ix = _index(cap)
    exp = _expected(cap)["socketio"]
    for direction in ("c2s", "s2c"):
        want = [(e["nsp"], e["event"]) for e in exp["events"] if e["direction"] == direction]
        got = [
            (r.nsp, r.event)
            for r in ix.rows
            if r.layer == "socketio" and r.kind in ("EVENT", "BINARY_EVENT") and r.direction == direction
        ]
        assert got == want, direction


@pytest.mark.parametrize("cap", SIO_CAPTURES, ids=lambda p: p.name)
def test_every_socketio_packet_links_down_to_tcp(cap: Path) -> None:
    ix = _index(cap)
    sio = [r for r in ix.rows if r.layer == "socketio"]
    assert sio
    for r in sio:
        eio = ix.sio_eio_rows(r)
        assert eio, f"Socket.IO row {r.id} ({r.summary}) has no Engine.IO packet"
        assert all(e.direction == r.direction and e.session == r.session for e in eio)
        rec = ix.record(r)
        assert len(eio) == 1 + (rec.get("attachments") or 0)
        for e in eio:
            carriers = ix.carrier_rows(e)
            assert carriers, f"Engine.IO row {e.id} ({e.summary}) has no carrier"
            assert carriers[0].layer in ("websocket", "http")


def test_xss_capture_is_shown_as_text(real: FlaskClient) -> None:
    cap = CAPTURES / "xss-payloads.pcap"
    cid = capture_id(real, cap.name)
    ix = _index(cap)
    payloads = {r.event for r in ix.rows if r.event and "<" in r.event} | {
        r.nsp for r in ix.rows if r.nsp and "<" in r.nsp
    }
    assert payloads, "the xss capture carries HTML in event names or namespaces"
    for page in ("messages?limit=1000", "", "sequence", "anomalies"):
        html = real.get(f"/c/{cid}/{page}").get_data(as_text=True)
        for p in payloads:
            assert p not in html
    html = real.get(f"/c/{cid}/messages?limit=1000").get_data(as_text=True)
    some = sorted(payloads)[0]
    assert some.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") in html
    for r in ix.rows:
        if r.layer in ("socketio", "http"):
            detail = real.get(f"/c/{cid}/messages/{r.id}").get_data(as_text=True)
            assert not re.search(r"<script(?![^>]*\bsrc=)", detail)
