"""`socketscope analyze --filter EXPR` (the real CLI, a subprocess) on real captures: the lines of
--messages, --events and --anomalies that the filter keeps are those the analysis document says
match; a filter that is not one is one sentence pointing at its column, and exit code 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import CAPTURES

UPGRADE = CAPTURES / "sio-python-polling-upgrade.pcap"  # WebSocket after polling, acks, binary events
POLLING = CAPTURES / "sio-python-polling-only.pcap"  # 1 warn, 11 chat anomalies


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "analyze", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _doc(path: object) -> dict[str, Any]:
    p = run(str(path), "--format", "json")
    assert p.returncode == 0, p.stderr
    return dict(json.loads(p.stdout))


def _section(text: str, title: str) -> list[str]:
    """The lines of one section of the text summary (after its title, up to the next title)."""
    lines = text.split("\n")
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i] and not lines[i].startswith(" ")), len(lines))
    return [line for line in lines[start:end] if line]


def _frames(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.search(r"  #(\d+) ", line))]


def test_events_filter_with_ack_latency() -> None:
    doc = _doc(UPGRADE)
    sio = doc["engineio_sessions"][0]["socketio"]
    slow = {(a["nsp"], a["ack_id"]) for a in sio["acks"] if (a["latency_ms"] or 0) > 2}
    want = [
        p["frame"]
        for p in sio["packets"]
        if p["type"] in ("EVENT", "BINARY_EVENT")
        and (p["nsp"], p["ack_id"]) in slow
        and p["direction"] == "c2s"
    ]
    p = run(
        str(UPGRADE),
        "--events",
        "--filter",
        'sio.type == "EVENT" && ack.latency_ms > 2 || sio.event == "upload"',
    )
    assert p.returncode == 0, p.stderr
    got = _frames(_section(p.stdout, "Socket.IO events"))
    upload = [q["frame"] for q in sio["packets"] if q["event"] == "upload"]
    assert want and got == sorted({*[f for f in want if f not in upload], *upload})
    everything = _frames(_section(run(str(UPGRADE), "--events").stdout, "Socket.IO events"))
    assert len(everything) == len(sio["packets"]) > len(got)


def test_messages_filter_on_opcode_and_payload() -> None:
    doc = _doc(UPGRADE)
    msgs = doc["connections"][0]["websocket"]["messages"]
    want = [m["frame"] for m in msgs if m["opcode"] == "text" and "chat" in (m["text"] or "")]
    p = run(str(UPGRADE), "--messages", "--filter", 'ws.opcode == 1 && payload contains "chat"')
    assert p.returncode == 0, p.stderr
    assert want and _frames(_section(p.stdout, "WebSocket messages")) == want
    binary = run(str(UPGRADE), "--messages", "--filter", "ws.opcode in {2}")
    got = _frames(_section(binary.stdout, "WebSocket messages"))
    assert got == [m["frame"] for m in msgs if m["opcode"] == "binary"] and got
    none = run(str(UPGRADE), "--messages", "--filter", 'payload matches "^zz+$"')
    assert "  no WebSocket message matches the filter" in none.stdout


def test_anomalies_filter() -> None:
    p = run(str(POLLING), "--anomalies", "--filter", 'anomaly.severity == "warn" || anomaly.code == "nope"')
    assert p.returncode == 0, p.stderr
    rows = _section(p.stdout, "Anomalies")
    assert len(rows) == 2 and "eio.request-rejected" in rows[1]  # the table's head, then the one kept
    chat = _section(
        run(str(POLLING), "--anomalies", "--filter", 'anomaly.severity == "chat"').stdout, "Anomalies"
    )
    assert len(chat) == 12 and all("eio.post-reply-case" in r for r in chat[1:])


def test_bad_filters_exit_2_with_the_column() -> None:
    p = run(str(UPGRADE), "--events", "--filter", 'sio.event == "chat" && ack.latency_ms >')
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert lines[0] == (
        "socketscope analyze: filter: column 40: expected a value after '>', found the end of the filter"
    )
    assert lines[2].index("^") == 2 + 39  # the caret under column 40 of the filter printed after 2 spaces
    assert p.stdout == ""
    for bad, message in (
        ('ws.opcode == "8"', "column 14: ws.opcode is a number, not a string"),
        ("sio.evnt", "column 1: unknown field 'sio.evnt'"),
        ('payload matches "(a"', "this pattern is not a regular expression"),
        ('anomaly.severity == "fatal"', "anomaly.severity is one of chat, note, warn, error"),
        ("sio.event = 'a'", "column 11: '=' is not an operator: write '==' to compare"),
        ("(tcp.retransmission", "expected ')' to close the '(' at column 1"),
    ):
        p = run(str(UPGRADE), "--events", "--filter", bad)
        assert p.returncode == 2 and message in p.stderr, (bad, p.stderr)
        assert "Traceback" not in p.stderr
    p = run(str(UPGRADE), "--filter", "ws.opcode == 8")
    assert p.returncode == 2 and "give one of them" in p.stderr
    p = run(str(UPGRADE), "--format", "json", "--filter", "ws.opcode == 8")
    assert p.returncode == 2 and "--filter cannot be used with --format json" in p.stderr


def test_filter_that_cannot_apply_is_warned() -> None:
    p = run(str(UPGRADE), "--messages", "--filter", 'sio.event == "chat"')
    assert p.returncode == 0
    assert "warning: filter: no field of this filter applies to WebSocket messages (sio.event)" in p.stderr


def test_export_jsonl_filter(tmp_path: Path) -> None:
    doc = _doc(UPGRADE)
    sio = doc["engineio_sessions"][0]["socketio"]
    latency = {(a["nsp"], a["ack_id"], a["request_direction"]): a["latency_ms"] for a in sio["acks"]}

    def asked(q: dict[str, Any]) -> str:  # the direction of the request an event or ACK belongs to
        return str(q["direction"]) if "EVENT" in q["type"] else "s2c" if q["direction"] == "c2s" else "c2s"

    out = tmp_path / "slow.jsonl"
    p = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "export", str(UPGRADE), "--format", "jsonl", "-q",
         "-o", str(out), "--filter", "ack.latency_ms > 2 && direction == 'c2s'"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    want = [
        q["frame"]
        for q in sio["packets"]
        if q["direction"] == "c2s" and (latency.get((q["nsp"], q["ack_id"], asked(q))) or 0) > 2
    ]
    assert want and [r["frame"] for r in got] == want and {r["layer"] for r in got} == {"socketio"}
    bad = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "export", str(UPGRADE), "--format", "har", "-o", str(out),
         "--filter", "ws.fin &&"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "column 10: expected a field name" in bad.stderr
