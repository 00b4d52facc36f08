"""Bundled Socket.IO captures: every event and ack equals what the applications sent and received."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer import analyze_file
from tests.conftest import bundled_captures


def expected(capture: Path) -> dict[str, Any]:
    return json.loads(capture.with_name(capture.name.split(".pcap")[0] + ".expected.json").read_text())


SIO = [c for c in bundled_captures() if expected(c).get("socketio")]


def canon(items: list[Any]) -> list[str]:
    return sorted(json.dumps(i, sort_keys=True, ensure_ascii=False) for i in items)


def session_for(capture: Path) -> tuple[dict[str, Any], dict[str, Any], Any]:
    want = expected(capture)["socketio"]
    a = analyze_file(str(capture))
    sessions = [s.to_dict() for s in a.engineio_sessions]
    match = [s for s in sessions if s["sid"] == want["sid"]]
    assert len(match) == 1, f"session {want['sid']} not found among {[s['sid'] for s in sessions]}"
    return want, match[0], a


def test_there_are_socketio_captures() -> None:
    assert len(SIO) >= 6


@pytest.mark.parametrize("capture", SIO, ids=lambda p: p.name)
def test_session_shape(capture: Path) -> None:
    want, s, _ = session_for(capture)
    assert s["protocol"] == want["eio"]
    if "transport_path" in want:
        assert s["transport_path"] == want["transport_path"]
    assert s["socketio"] is not None
    if want.get("parser"):
        assert s["socketio"]["parser"] == want["parser"]
    if want.get("ping_interval_ms") is not None:
        assert s["ping_interval_ms"] == want["ping_interval_ms"]
        assert s["ping_timeout_ms"] == want["ping_timeout_ms"]


@pytest.mark.parametrize("capture", SIO, ids=lambda p: p.name)
def test_events_equal_the_applications_record(capture: Path) -> None:
    want, s, _ = session_for(capture)
    pk = s["socketio"]["packets"]
    got = [
        {"direction": p["direction"], "nsp": p["nsp"], "event": p["event"], "args": p["args"]}
        for p in pk
        if p["type"] in ("EVENT", "BINARY_EVENT")
    ]
    exp = [
        {"direction": e["direction"], "nsp": e["nsp"], "event": e["event"], "args": e["args"]}
        for e in want["events"]
    ]
    assert canon(got) == canon(exp)


@pytest.mark.parametrize("capture", SIO, ids=lambda p: p.name)
def test_acks_equal_the_applications_record(capture: Path) -> None:
    want, s, _ = session_for(capture)
    pk = s["socketio"]["packets"]
    got = [
        {"direction": p["direction"], "nsp": p["nsp"], "args": p["data"]}
        for p in pk
        if p["type"] in ("ACK", "BINARY_ACK")
    ]
    exp = [{"direction": e["direction"], "nsp": e["nsp"], "args": e["args"]} for e in want["acks"]]
    assert canon(got) == canon(exp)
    # every ack the applications saw answered is paired with a latency
    answered = [x for x in s["socketio"]["acks"] if x["latency_ms"] is not None]
    assert len(answered) == len(want["acks"])
    assert all(x["latency_ms"] >= 0 for x in answered)


@pytest.mark.parametrize("capture", SIO, ids=lambda p: p.name)
def test_real_traffic_raises_no_errors(capture: Path) -> None:
    _, _, a = session_for(capture)
    errors = [(x.code, x.message) for x in a.anomalies if x.severity.value == "error"]
    assert errors == []
