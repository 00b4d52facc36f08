"""CSV tables: read back and compared with the analysis; columns as documented; spreadsheet safety."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.export.csvout import TABLES, csv_line
from tests.conftest import CAPTURES, ROOT
from tests.export.common import BUNDLED, SIO_CAPTURES, analysis, expected, export_csv
from tests.export.craft import sio_over_ws


def test_every_column_is_documented() -> None:
    doc = (ROOT / "docs" / "exports.md").read_text()
    for name, columns in TABLES.items():
        section = doc.split(f"### {name}.csv", 1)[1].split("###", 1)[0]
        documented = re.findall(r"`([a-z0-9_]+)`", section)
        assert [c for c in documented if c in columns] == list(columns), name


@pytest.mark.parametrize("capture", BUNDLED, ids=lambda p: p.name)
def test_tables_equal_the_analysis(capture: Path, tmp_path: Path) -> None:
    a = analysis(str(capture))
    t = export_csv(capture, tmp_path, raw=True)
    assert [int(r["id"]) for r in t["connections"]] == [c.id for c in a.connections]
    for row, c in zip(t["connections"], a.connections, strict=True):
        assert (row["client_ip"], int(row["client_port"])) == (c.client["ip"], c.client["port"])
        assert (
            int(row["packets_c2s"]) + int(row["packets_s2c"])
            == c.tcp["packets"]["c2s"] + c.tcp["packets"]["s2c"]
        )
        assert float(row["first_ts"]) == c.tcp["first_ts"]
    msgs = [(c.id, m.to_dict()) for c in a.connections if c.websocket for m in c.websocket.messages]
    assert len(t["websocket_messages"]) == len(msgs)
    for row, (cid, m) in zip(t["websocket_messages"], msgs, strict=True):
        assert int(row["connection"]) == cid and row["direction"] == m["direction"]
        assert float(row["ts"]) == m["ts"] and int(row["frame"]) == m["frame"]
        assert [int(x) for x in row["packets"].split()] == m["packets"]
        assert row["text"] == (m["text"] or "") and row["data_hex"] == (m["data_hex"] or "")
    assert len(t["http"]) == sum(len(c.http) for c in a.connections)
    for row, x in zip(t["http"], [x for c in a.connections for x in c.http], strict=True):
        assert x.request is not None
        assert (row["method"], row["target"], int(row["request_frame"])) == (
            x.request.method,
            x.request.target,
            x.request.frame,
        )
        assert int(row["request_body_bytes"]) == len(x.request.body)
        assert row["status"] == (str(x.response.status) if x.response else "")
    assert [(r["code"], r["message"]) for r in t["anomalies"]] == [(x.code, x.message) for x in a.anomalies]
    sess = a.engineio_sessions
    assert len(t["engineio_packets"]) == sum(len(s.packets) for s in sess)
    assert len(t["socketio_packets"]) == sum(len(s.socketio.packets) for s in sess if s.socketio)
    assert len(t["acks"]) == sum(len(s.socketio.acks) for s in sess if s.socketio)


@pytest.mark.parametrize("capture", SIO_CAPTURES, ids=lambda p: p.name)
def test_socketio_rows_equal_what_the_applications_saw(capture: Path, tmp_path: Path) -> None:
    rec = expected(capture)["socketio"]
    t = export_csv(capture, tmp_path, raw=True)
    rows = [r for r in t["socketio_packets"] if r["type"] in ("EVENT", "BINARY_EVENT")]
    for direction in ("c2s", "s2c"):
        want = [(e["nsp"], e["event"], e["args"]) for e in rec["events"] if e["direction"] == direction]
        got = [(r["nsp"], r["event"], json.loads(r["args"])) for r in rows if r["direction"] == direction]
        assert got == want
    assert {r["sid"] for r in t["engineio_packets"]} == {rec["sid"]}
    answered = [r for r in t["acks"] if r["latency_ms"]]
    for r in answered:
        assert float(r["latency_ms"]) == pytest.approx(
            (float(r["response_ts"]) - float(r["request_ts"])) * 1000, abs=1e-2
        )


def test_selection_applies(tmp_path: Path) -> None:
    node = CAPTURES / "sio-node-v4-default.pcap"
    t = export_csv(node, tmp_path, events=["chat"])
    assert [r["event"] for r in t["acks"]] == ["chat"]
    assert [r["type"] for r in t["socketio_packets"]] == ["EVENT", "ACK"]
    (sess,) = analysis(str(node)).engineio_sessions
    assert {int(r["id"]) for r in t["connections"]} == set(sess.connections)


def test_formula_cells_are_defused(tmp_path: Path) -> None:
    cap = tmp_path / "evil.pcap"
    cap.write_bytes(
        sio_over_ws([("c2s", ['=HYPERLINK("http://x")', "-2+3", "\ud800"]), ("s2c", ["@SUM(A1)"])])
    )
    safe = export_csv(cap, tmp_path / "safe")
    events = [r["event"] for r in safe["socketio_packets"] if r["type"] == "EVENT"]
    assert events == ['\'=HYPERLINK("http://x")', "'@SUM(A1)"]
    # JSON cells are never a formula: they start with [ { " or a digit
    args = [json.loads(r["args"]) for r in safe["socketio_packets"] if r["type"] == "EVENT"]
    assert args == [["-2+3", "\ud800"], []]  # a lone surrogate is written as its JSON escape
    raw = export_csv(cap, tmp_path / "raw", raw=True)
    assert [r["event"] for r in raw["socketio_packets"] if r["type"] == "EVENT"] == [
        '=HYPERLINK("http://x")',
        "@SUM(A1)",
    ]
    for f in (tmp_path / "safe").iterdir():
        f.read_bytes().decode("utf-8")  # valid UTF-8 throughout


_CSV_CHARS = st.sampled_from(list(",\"\r\n ab'=\u00e9\ud800\t"))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet=_CSV_CHARS, max_size=12) | st.text(), max_size=6))
def test_lines_are_written_as_the_csv_module_writes_them(cells: list[str]) -> None:
    """csv_line replaces csv.writer for speed (analyzer/export/csvout.py): the same text, always."""
    buf = io.StringIO()
    csv.writer(buf).writerow(cells)
    assert csv_line(cells) == buf.getvalue()
    if cells:
        assert next(csv.reader(io.StringIO(csv_line(cells), newline=""))) == cells
