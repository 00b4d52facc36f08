"""`socketscope analyze` (the real CLI, a subprocess) on real captures: the anomalies of the text
summary name their frame, connection or session and message; `--anomalies` lists each one;
`--messages` / `--events` mark the anomalies after the message or event they concern; anomaly
messages are text in every output; and the summary's rough edges (issue #14)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import open_capture
from tests.conftest import CAPTURES, corpus_file
from tests.pcapwriter import pcap_bytes

POLLING = CAPTURES / "sio-python-polling-only.pcap"  # eio.request-rejected, 11 eio.post-reply-case
REFUSED = CAPTURES / "sio-node-v4-default.pcap"  # a namespace refused with {"message", "data"}
WS = CAPTURES / "ws-python-websockets.pcap"  # permessage-deflate with parameters, fragmented messages
BROWSER = CAPTURES / "sio-chromium-browser.pcap"  # its session's connections start #0, #2, #1, #3
SID = "fcYm5VeH77SP6kzMAAAA"  # POLLING's Engine.IO session


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args], capture_output=True, text=True, timeout=300
    )


def analyze(*args: str) -> str:
    p = run("analyze", "--no-progress", *args)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return p.stdout


def section(text: str, title: str) -> list[str]:
    """The lines of one section of the summary (after its title, up to the next blank line)."""
    lines = text.split("\n")
    start = lines.index(title) + 1
    end = lines.index("", start)
    return lines[start:end]


def document(capture: Path) -> dict[str, Any]:
    p = run("analyze", "--no-progress", "--format", "json", str(capture))
    assert p.returncode == 0, p.stderr
    doc: dict[str, Any] = json.loads(p.stdout)
    return doc


# -- the Anomalies section ------------------------------------------------------------------------------


def test_each_code_names_its_first_frame_connection_session_and_message() -> None:
    rows = section(analyze(str(POLLING)) + "\n", "Anomalies")
    assert rows[0].split() == ["severity", "code", "count", "first", "frame", "where", "message"]
    rejected, reply_case = rows[1:]
    # by severity then code; the frame, connection and message are the ones of the JSON document
    doc = document(POLLING)
    first = {}
    for an in doc["anomalies"]:
        first.setdefault(an["code"], an)
    rej = first["eio.request-rejected"]
    assert rej["frames"] == [134] and rej["connection"] == 0
    assert rejected.split()[:5] == ["warn", "eio.request-rejected", "1", "134", "#0"]
    assert f"#0 sid {SID}  " in rejected
    assert rejected.endswith('polling GET answered 400 "Bad Request"')
    case = first["eio.post-reply-case"]
    assert reply_case.split()[:5] == [
        "chat",
        "eio.post-reply-case",
        "11",
        str(case["frames"][0]),
        f"#{case['connection']}",
    ]
    assert reply_case.endswith(case["message"])


def test_anomalies_flag_lists_every_occurrence() -> None:
    rows = section(analyze("--anomalies", str(POLLING)) + "\n", "Anomalies")
    assert rows[0].split() == ["severity", "code", "frames", "where", "dir", "message"]
    doc = document(POLLING)
    assert len(doc["anomalies"]) == 12
    order = {"error": 0, "warn": 1, "note": 2, "chat": 3}
    listed = sorted(doc["anomalies"], key=lambda a: (order[a["severity"]], a["code"], a["frames"]))
    want = [
        [
            a["severity"],
            a["code"],
            str(a["frames"][0]),
            f"#{a['connection']}",
            "sid",
            SID,
            a["direction"],
            a["message"],
        ]
        for a in listed
    ]
    got = [row.split(maxsplit=6) for row in rows[1:]]
    assert [g[:6] + g[6].split("  ", 1) for g in got] == want


def test_anomaly_messages_are_text_in_every_output(tmp_path: Path) -> None:
    """A Socket.IO v5 CONNECT_ERROR carries {"message", "data"}: the anomaly says it as text."""
    want = "connection to namespace /private refused: not authorized"
    want += ' (data {"reason":"bad token","token":"wrong"})'
    doc = document(REFUSED)
    (refused,) = [a for a in doc["anomalies"] if a["code"] == "sio.connect-refused"]
    assert refused["message"] == want
    assert "{'" not in json.dumps(doc["anomalies"])
    assert want in analyze(str(REFUSED))
    out = tmp_path / "csv"
    p = run("export", str(REFUSED), "--format", "csv", "-o", str(out))
    assert p.returncode == 0, p.stderr
    with (out / "anomalies.csv").open(newline="", encoding="utf-8") as f:
        messages = [row["message"] for row in csv.DictReader(f)]
    assert messages == [want]


# -- inline marks --------------------------------------------------------------------------------------


def test_events_mark_the_packet_an_anomaly_was_raised_on() -> None:
    """The refusal travels in one polling response with two accepted CONNECTs: the mark follows
    the CONNECT_ERROR, once."""
    lines = analyze("--events", str(REFUSED)).split("\n")
    marks = [i for i, line in enumerate(lines) if "!!" in line]
    assert len(marks) == 1
    (i,) = marks
    assert lines[i].strip().startswith("!! sio.connect-refused: connection to namespace /private refused")
    assert re.search(r"#51 +S->C /private CONNECT_ERROR ", lines[i - 1])
    assert "#51" in lines[i - 2]  # a packet of the same frame, not marked


def test_messages_mark_the_message_and_keep_the_others_in_the_section() -> None:
    cap = corpus_file("suricata-verify", "websocket-control-frag", "input.pcap")
    text = analyze("--messages", str(cap))
    lines = section(text, "WebSocket messages")
    i = next(i for i, line in enumerate(lines) if "!!" in line and "ws.repeated-mask-key" in line)
    assert re.search(r"#12 +C->S text .* MALWARE_DOWNLOAD", lines[i - 1])
    assert (
        lines[i].strip()
        == "!! ws.repeated-mask-key: 2 client frame(s) reuse a masking key of the last 256 frames"
    )
    # the handshake's anomaly concerns no message: only in the Anomalies section
    assert "ws.handshake-bad-key" not in "\n".join(lines)
    assert "ws.handshake-bad-key" in "\n".join(section(text + "\n", "Anomalies"))


# -- rough edges -----------------------------------------------------------------------------------------


def test_heartbeat_of_a_capture_that_starts_after_the_handshake(tmp_path: Path) -> None:
    cut = tmp_path / "mid-session.pcap"
    packets = [(p.ts, p.data) for p in open_capture(str(POLLING))]
    cut.write_bytes(pcap_bytes(packets[11:]))  # from the first request after the handshake's answer
    text = analyze(str(cut))
    assert "     heartbeat: unknown (handshake not captured), 2 pings\n" in text
    assert "None" not in text


def test_websocket_extensions_are_named_once() -> None:
    (line,) = [line for line in analyze(str(WS)).split("\n") if "extensions" in line]
    assert line.count("permessage-deflate") == 1
    assert "extensions permessage-deflate (server_max_window_bits=12, client_max_window_bits=12)," in line


def test_message_flags_have_a_legend() -> None:
    lines = section(analyze("--messages", str(WS)), "WebSocket messages")
    assert "z = compressed" in lines[0] and "fN = sent in N frames" in lines[0]
    assert lines[1].startswith("  connection #0 ")
    assert any(" zf4 " in line for line in lines[2:])


def test_session_connections_are_sorted() -> None:
    (line,) = [line for line in analyze(str(BROWSER)).split("\n") if line.startswith("  sid ")]
    listed = [int(c) for c in re.findall(r"#(\d+)", line.split("connections", 1)[1])]
    assert listed == sorted(listed) and len(listed) == 4


def test_no_heading_for_a_websocket_connection_without_messages() -> None:
    cap = corpus_file("zeek", "wrong-accept-header.pcap")  # a WebSocket connection, no message
    assert section(analyze("--messages", str(cap)), "WebSocket messages") == ["  no WebSocket messages"]


def test_empty_logs_say_so() -> None:
    text = analyze("--messages", "--events", str(POLLING))
    assert section(text, "WebSocket messages") == ["  no WebSocket messages"]
    assert section(analyze("--events", str(WS)), "Socket.IO events") == ["  no Socket.IO sessions"]


@pytest.mark.parametrize(
    "flags", [["--messages"], ["--events"], ["--anomalies"], ["--events", "--anomalies"]]
)
def test_text_only_options_with_json_are_a_usage_error(flags: list[str]) -> None:
    p = run("analyze", str(WS), "--format", "json", *flags)
    assert p.returncode == 2
    assert p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    assert "--format json" in p.stderr and all(f in p.stderr for f in flags)
    assert "text format only" in run("analyze", "--help").stdout
