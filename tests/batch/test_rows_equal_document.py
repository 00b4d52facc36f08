"""Every table's rows equal the analysis document's records, for every bundled and corpus capture;
and a capture split into three shares by flow hash (sessions merged) gives the same rows."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from analyzer.batch.rows import text  # noqa: E402 - after the skip
from analyzer.batch.task import TaskSpec, analyze_share, merge_sessions  # noqa: E402
from analyzer.capture.pcapfile import open_capture  # noqa: E402
from analyzer.pipeline import Options, analyze_file  # noqa: E402
from analyzer.protocols.tls.keylog import KeyLog  # noqa: E402
from tests.golden.outputs import ROOT, captures  # noqa: E402

# the golden set (bundled and corpus captures) and the TLS captures with their key logs
CAPTURES = captures() + sorted(
    p.relative_to(ROOT) for d in ("tls", "h2") for p in (ROOT / "captures" / d).glob("*.pcap*")
)


def _us(ts: float | None) -> int | None:
    return None if ts is None else round(ts * 1e6)


def _bytes(t: str | None, h: str | None) -> bytes | None:
    if h is not None:
        return bytes.fromhex(h)
    return None if t is None else t.encode("utf-8", "surrogatepass")


def _json(v: Any) -> str | None:
    """A Socket.IO value as the dataset's JSON text: compact, not ASCII-escaped."""
    return None if v is None else text(json.dumps(v, ensure_ascii=False, separators=(",", ":")))


def _read(staging: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for table in sorted(os.listdir(staging)):
        d = os.path.join(staging, table)
        if not os.path.isdir(d):
            continue
        rows: list[dict[str, Any]] = []
        for f in sorted(os.listdir(d)):
            rows += pq.read_table(os.path.join(d, f)).to_pylist()
        out[table] = rows
    return out


def _micros(v: Any) -> int | None:
    if v is None:
        return None
    return round(v.timestamp() * 1e6)


def _expected(doc: dict[str, Any], times: list[float]) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows, made from the document with a mapping written here, independently."""
    e: dict[str, list[tuple[Any, ...]]] = {
        k: []
        for k in (
            "connections",
            "http",
            "ws_frames",
            "ws_messages",
            "tls",
            "sessions",
            "eio_packets",
            "sio_packets",
            "acks",
            "anomalies",
            "http2",
        )
    }
    for c in doc["connections"]:
        tcp = c["tcp"]
        e["connections"].append(
            (
                c["id"],
                tcp["first_frame"],
                _us(tcp["first_ts"]),
                c["client"]["ip"],
                c["client"]["port"],
                c["server"]["port"],
                c["app_protocol"],
                tcp["end"],
                "http2" in c,
                ((c.get("websocket") or {}).get("handshake") or {}).get("h2_stream_id"),
            )
        )
        if "http2" in c:
            h = c["http2"]
            e["http2"].append(
                (
                    c["id"],
                    h["streams"],
                    sorted(h["frames"]["c2s"].items()),
                    sorted(h["settings"]["s2c"].items()),
                    h["enable_connect_protocol"],
                    sorted(h["resets"].items()),
                    [(g["direction"], g["frame"], g["last_stream_id"], g["error"]) for g in h["goaway"]],
                    h["pushes"],
                )
            )
        for i, x in enumerate(c["http"]):
            q, r = x["request"] or {}, x["response"] or {}
            e["http"].append(
                (
                    c["id"],
                    i,
                    text(q.get("method")),
                    text(q.get("target")),
                    q["stream_id"] if "stream_id" in q else r.get("stream_id"),
                    r.get("status"),
                    _bytes(q["body"]["text"], q["body"]["hex"]) if q else None,
                    _bytes(r["body"]["text"], r["body"]["hex"]) if r else None,
                )
            )
        ws = c.get("websocket")
        for f in (ws or {}).get("frames", ()):
            e["ws_frames"].append(
                (
                    c["id"],
                    f["frame"],
                    _us(f["ts"]),
                    f["direction"],
                    f["opcode"],
                    f["payload_length"],
                    _bytes(None, f["payload_hex"]),
                )
            )
        for m in (ws or {}).get("messages", ()):
            e["ws_messages"].append(
                (
                    c["id"],
                    m["frame"],
                    _us(m["ts"]),
                    m["direction"],
                    m["opcode"],
                    m["length"],
                    _bytes(m["text"], m["data_hex"]),
                )
            )
        if c.get("tls"):
            t = c["tls"]
            e["tls"].append((c["id"], t["version"], t["sni"], t["cipher_suite"], t["decrypted"]))
    for s in doc["engineio_sessions"]:
        e["sessions"].append((s["sid"], s["protocol"], s["upgraded"], _us(s["first_ts"]), s["anomaly_count"]))
        for p in s["packets"]:
            data = p["data"] if isinstance(p["data"], str) else None
            e["eio_packets"].append(
                (s["sid"], p["frame"], _us(p["ts"]), p["type"], p["direction"], _bytes(data, p["data_hex"]))
            )
        sio = s.get("socketio") or {}
        for q in sio.get("packets", ()):
            e["sio_packets"].append(
                (
                    s["sid"],
                    q["frame"],
                    _us(q["ts"]),
                    q["type"],
                    text(q["nsp"]),
                    text(q["event"]),
                    q["ack_id"],
                    _json(q["args"]),
                    _json(q["data"]),
                )
            )
        for a in sio.get("acks", ()):
            e["acks"].append(
                (s["sid"], text(a["nsp"]), a["ack_id"], text(a["event"]), a["latency_ms"], a["request_frame"])
            )
    for a in doc["anomalies"]:
        ts = times[a["frames"][0] - 1] if a["frames"] else None
        e["anomalies"].append(
            (a["code"], a["connection"], a["direction"], tuple(a["frames"]), text(a["message"]), _us(ts))
        )
    return e


def _actual(t: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "connections": [
            (
                r["connection_id"],
                r["frame"],
                _micros(r["ts"]),
                r["client_ip"],
                r["client_port"],
                r["server_port"],
                r["app_protocol"],
                r["end"],
                r["http2"],
                r["ws_h2_stream_id"],
            )
            for r in t["connections"]
        ],
        "http2": [
            (
                r["connection_id"],
                r["streams"],
                sorted(r["frames_c2s"]),
                sorted(r["settings_s2c"]),
                r["enable_connect_protocol"],
                sorted(r["resets"]),
                [(g["direction"], g["frame"], g["last_stream_id"], g["error"]) for g in r["goaway"]],
                r["pushes"],
            )
            for r in t["http2"]
        ],
        "http": [
            (
                r["connection_id"],
                r["exchange"],
                r["method"],
                r["target"],
                r["stream_id"],
                r["status"],
                r["request_body"],
                r["response_body"],
            )
            for r in t["http"]
        ],
        "ws_frames": [
            (
                r["connection_id"],
                r["frame"],
                _micros(r["ts"]),
                r["direction"],
                r["opcode"],
                r["payload_length"],
                r["payload"],
            )
            for r in t["ws_frames"]
        ],
        "ws_messages": [
            (
                r["connection_id"],
                r["frame"],
                _micros(r["ts"]),
                r["direction"],
                r["opcode"],
                r["length"],
                r["payload"],
            )
            for r in t["ws_messages"]
        ],
        "tls": [
            (r["connection_id"], r["version"], r["sni"], r["cipher_suite"], r["decrypted"]) for r in t["tls"]
        ],
        "sessions": [
            (r["sid"], r["protocol"], r["upgraded"], _micros(r["ts"]), r["anomaly_count"])
            for r in t["sessions"]
        ],
        "eio_packets": [
            (r["sid"], r["frame"], _micros(r["ts"]), r["type"], r["direction"], r["payload"])
            for r in t["eio_packets"]
        ],
        "sio_packets": [
            (
                r["sid"],
                r["frame"],
                _micros(r["ts"]),
                r["type"],
                r["nsp"],
                r["event"],
                r["ack_id"],
                r["args"],
                r["data"],
            )
            for r in t["sio_packets"]
        ],
        "acks": [
            (r["sid"], r["nsp"], r["ack_id"], r["event"], r["latency_ms"], r["frame"]) for r in t["acks"]
        ],
        "anomalies": [
            (
                r["code"],
                r["connection_id"],
                r["direction"],
                tuple(r["frames"]),
                r["message"],
                _micros(r["ts"]),
            )
            for r in t["anomalies"]
        ],
    }


def _key(v: tuple[Any, ...]) -> str:
    return repr(v)


def _run(
    path: Path, staging: str, shares: int, keys: tuple[tuple[bytes, str], ...]
) -> dict[str, list[dict[str, Any]]]:
    spec = TaskSpec(str(path), "c0", staging, shares=shares, keylogs=keys)
    results = [analyze_share(replace(spec, share=k)) for k in range(shares)]
    assert all(r["error"] is None for r in results), results
    if shares > 1:
        merge_sessions(spec, results)
    return _read(staging)


@pytest.mark.parametrize("capture", CAPTURES, ids=str)
def test_rows_equal_document_and_split(capture: Path, tmp_path: Path) -> None:
    path = ROOT / capture
    keyfile = path.with_suffix(".keys")
    keys: tuple[tuple[bytes, str], ...] = ()
    options = Options()
    if keyfile.exists():
        keys = ((keyfile.read_bytes(), str(keyfile)),)
        options.keylog = KeyLog()
        options.keylog.add_text(keys[0][0], keys[0][1])
    doc = analyze_file(str(path), options).to_dict()
    whole = _run(path, str(tmp_path / "one"), 1, keys)
    times = [p.ts for p in open_capture(str(path))]  # every packet's time, for the anomalies
    expected, actual = _expected(doc, times), _actual(whole)
    for table, rows in expected.items():
        assert sorted(actual[table], key=_key) == sorted(rows, key=_key), table
    assert all(r["capture_id"] == "c0" for rows in whole.values() for r in rows)
    if keys:  # a capture with its key log: every TLS connection decrypted
        assert whole["tls"] and all(r["decrypted"] for r in whole["tls"])
    if "h2" in capture.parts:  # the HTTP/2 captures: an http2 row and HTTP/2 exchanges with streams
        assert whole["http2"] and any(r["stream_id"] is not None for r in whole["http"])
    if "rfc8441" in capture.name:  # WebSocket over HTTP/2: the handshake's stream
        assert any(r["ws_h2_stream_id"] is not None for r in whole["connections"])
    if doc["anomalies"]:
        assert all(r["ts"] is not None for r in whole["anomalies"] if r["frame"] is not None)
    split_tables = _run(path, str(tmp_path / "three"), 3, keys)
    if len(doc["connections"]) >= 4:  # the split did split: connections in at least two shares
        parts = (tmp_path / "three" / "connections").glob("*.parquet")
        assert sum(1 for f in parts if pq.read_metadata(f).num_rows) >= 2
    split = _actual(split_tables)
    for table, rows in actual.items():
        assert sorted(split[table], key=_key) == sorted(rows, key=_key), f"{table} split"
