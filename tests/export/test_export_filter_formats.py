"""`socketscope export --filter EXPR` in every format, through the real CLI (a subprocess): what
each format keeps is what the same capture's unfiltered export holds, narrowed to the records the
filter matches (docs/filters.md, "In the exports")."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import CAPTURES, packet_count

NODE = CAPTURES / "sio-node-v4-default.pcap"  # polling and WebSocket, acks, binary events
UPGRADE = CAPTURES / "sio-python-polling-upgrade.pcap"


def export(capture: Path, fmt: str, out: Path, *extra: str) -> None:
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzer.cli",
            "export",
            str(capture),
            "--format",
            fmt,
            "-q",
            "-o",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr


def rows(folder: Path, table: str) -> list[dict[str, str]]:
    with open(folder / f"{table}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_keeps_the_rows_of_the_matching_records(tmp_path: Path) -> None:
    export(NODE, "csv", tmp_path / "all")
    export(NODE, "csv", tmp_path / "some", "--filter", 'sio.type == "EVENT" || ws.opcode == 1')
    whole, some = tmp_path / "all", tmp_path / "some"
    events = [r for r in rows(whole, "socketio_packets") if r["type"] == "EVENT"]
    assert events and rows(some, "socketio_packets") == events
    texts = [r for r in rows(whole, "websocket_messages") if r["opcode"] == "text"]
    assert texts and rows(some, "websocket_messages") == texts
    assert len(rows(whole, "engineio_packets")) > 0 and rows(some, "engineio_packets") == []
    assert rows(some, "http") == [] and rows(some, "connections") == []  # no field applies to them
    kept_frames = {r["frame"] for r in events}
    acks = [r for r in rows(whole, "acks") if r["request_frame"] in kept_frames]
    assert rows(some, "acks") == acks


def test_csv_connections_and_http_by_their_fields(tmp_path: Path) -> None:
    export(NODE, "csv", tmp_path / "all")
    whole = tmp_path / "all"
    conns = rows(whole, "connections")
    port = sorted(int(r["client_port"]) for r in conns)[len(conns) // 3]
    export(NODE, "csv", tmp_path / "some", "--filter", f'http.method == "POST" || tcp.client_port < {port}')
    some = tmp_path / "some"
    low = [r for r in conns if int(r["client_port"]) < port]
    assert low and rows(some, "connections") == low
    low_ids = {r["id"] for r in low}  # tcp.* fields apply to what a connection carried too
    want = [r for r in rows(whole, "http") if r["method"] == "POST" or r["connection"] in low_ids]
    assert any(r["connection"] not in low_ids for r in want) and rows(some, "http") == want
    assert len(want) < len(rows(whole, "http"))


def _ws_messages(har: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for e in har["log"]["entries"] for m in e.get("_webSocketMessages", [])]


def test_har_keeps_the_matching_exchanges_and_messages(tmp_path: Path) -> None:
    export(UPGRADE, "har", tmp_path / "all.har")
    export(UPGRADE, "har", tmp_path / "some.har", "--filter", 'ws.opcode == 1 && direction == "c2s"')
    whole = json.loads((tmp_path / "all.har").read_text(encoding="utf-8"))
    some = json.loads((tmp_path / "some.har").read_text(encoding="utf-8"))
    want = [m for m in _ws_messages(whole) if m["type"] == "send" and m["opcode"] == 1]
    assert want and _ws_messages(some) == want
    assert len(some["log"]["entries"]) == 1 < len(whole["log"]["entries"])  # the upgrade only
    export(UPGRADE, "har", tmp_path / "get.har", "--filter", 'http.method == "GET"')
    gets = json.loads((tmp_path / "get.har").read_text(encoding="utf-8"))["log"]["entries"]
    assert gets and len(gets) == sum(e["request"]["method"] == "GET" for e in whole["log"]["entries"])
    assert {e["request"]["method"] for e in gets} == {"GET"}


def test_pcapng_slice_holds_the_packets_of_the_kept_records(tmp_path: Path) -> None:
    flt = 'sio.type == "EVENT"'
    export(NODE, "pcap", tmp_path / "all.pcapng")
    export(NODE, "pcap", tmp_path / "some.pcapng", "--filter", flt)
    export(NODE, "jsonl", tmp_path / "some.jsonl", "--filter", flt)
    lines = [json.loads(x) for x in (tmp_path / "some.jsonl").read_text(encoding="utf-8").splitlines()]
    frames = {f for line in lines for f in line["packets"]}
    assert lines and {x["type"] for x in lines} == {"EVENT"}
    assert packet_count(tmp_path / "some.pcapng") == len(frames) < packet_count(tmp_path / "all.pcapng")
    export(NODE, "pcap", tmp_path / "fin.pcapng", "--filter", 'tcp.end == "fin"')  # whole connections
    export(NODE, "csv", tmp_path / "tables")
    fins = [r for r in rows(tmp_path / "tables", "connections") if r["end"] == "fin"]
    assert fins and packet_count(tmp_path / "fin.pcapng") == sum(
        int(r["packets_c2s"]) + int(r["packets_s2c"]) for r in fins
    )


def test_jsonl_at_each_layer(tmp_path: Path) -> None:
    flt = 'direction == "s2c"'
    for layer in ("socketio", "engineio", "websocket"):
        export(NODE, "jsonl", tmp_path / f"{layer}.jsonl", "--layer", layer)
        export(NODE, "jsonl", tmp_path / f"{layer}-s2c.jsonl", "--layer", layer, "--filter", flt)
        whole = (tmp_path / f"{layer}.jsonl").read_text(encoding="utf-8").splitlines()
        some = (tmp_path / f"{layer}-s2c.jsonl").read_text(encoding="utf-8").splitlines()
        want = [x for x in whole if json.loads(x)["direction"] == "s2c"]
        assert want and some == want and len(some) < len(whole), layer


def test_a_filter_no_record_of_the_format_has_warns(tmp_path: Path) -> None:
    out = tmp_path / "x.har"
    args = ["export", str(NODE), "--format", "har", "-q", "-o", str(out), "--filter", 'sio.event == "chat"']
    p = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0
    assert "warning: filter: no field of this filter applies to HTTP requests" in p.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["log"]["entries"] == []
