"""node socket.io 4 over https (captures/tls/sio-node-https.pcap: captures/node/sio_v4.js run as
`node --tls-keylog=KEYS` by captures/tls/make_tls_captures.py): long-polling over a TLS
connection per request, then the upgrade to wss. Everything the application logged comes out
of socketscope with the key log (events, acks, binary attachments, namespace connects, the
refused namespace, the client's disconnects and the WebSocket close), and tshark with the same
key log finds the same WebSocket frames in the same packets."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.sio_record import canon, recorded_acks, recorded_events
from tests.tls.common import analysis, capture, expected, keylog_path

NAME = "sio-node-https"


def _session() -> dict[str, Any]:
    want = expected(NAME)["socketio"]
    (s,) = [s.to_dict() for s in analysis(NAME).engineio_sessions if s.sid == want["sid"]]
    return s


def test_every_connection_is_tls_and_decrypted() -> None:
    a = analysis(NAME)
    assert len(a.connections) >= 3  # long-polls on connections of their own, then the WebSocket
    for c in a.connections:
        assert c.tls is not None and c.tls.decrypted and c.tls.version == "TLS 1.3"
        assert c.app_protocol in ("http", "websocket") and c.tls.decrypt_failed == {"c2s": 0, "s2c": 0}
    assert [c.app_protocol for c in a.connections].count("websocket") == 1
    ws = next(c for c in a.connections if c.websocket is not None)
    assert ws.websocket is not None and ws.websocket.url.startswith("wss://127.0.0.1:")
    assert not [x for x in a.anomalies if x.code.startswith("tls.")]


def test_events_acks_and_attachments_equal_the_applications_record() -> None:
    want = expected(NAME)["socketio"]
    s = _session()
    assert s["transport_path"] == want["transport_path"] == ["polling", "websocket"]
    pk = s["socketio"]["packets"]
    events = recorded_events(pk)
    assert canon(events) == canon(want["events"])
    acks = recorded_acks(pk)
    assert canon(acks) == canon(want["acks"])
    binary = [p for p in pk if p["type"] in ("BINARY_EVENT", "BINARY_ACK")]
    assert len(binary) >= 3 and all(p["attachments"] >= 1 for p in binary)
    assert "$hex" in json.dumps([p["args"] or p["data"] for p in binary])
    assert {p["transport"] for p in pk if p["type"] == "EVENT"} == {"polling", "websocket"}


def test_connects_refusal_and_closes_equal_the_applications_record() -> None:
    want = expected(NAME)["socketio"]
    pk = _session()["socketio"]["packets"]
    connected = {p["nsp"] for p in pk if p["type"] == "CONNECT" and p["direction"] == "s2c"}
    assert connected == {c["nsp"] for c in want["connects"]}
    refused = [
        {
            "direction": p["direction"],
            "nsp": p["nsp"],
            "message": p["data"]["message"],
            "data": p["data"]["data"],
        }
        for p in pk
        if p["type"] == "CONNECT_ERROR"
    ]
    assert canon(refused) == canon(want["connect_errors"])
    client_closed = [d["nsp"] for d in want["disconnects"] if d["reason"] == "io client disconnect"]
    sent = [p["nsp"] for p in pk if p["type"] == "DISCONNECT" and p["direction"] == "c2s"]
    assert sorted(sent) == sorted(client_closed)
    ws = next(c for c in analysis(NAME).connections if c.websocket is not None)
    close = ws.to_dict()["websocket"]["close"]  # engine.io-client closes without a status code
    assert close["c2s"]["frame"] < close["s2c"]["frame"] and close["c2s"]["code"] is None


@pytest.mark.tshark
def test_websocket_frames_agree_with_tshark(tshark: str) -> None:
    port = expected(NAME)["port"]
    cmd = [tshark, "-r", str(capture(NAME)), "-o", f"tls.keylog_file:{keylog_path(NAME)}"]
    cmd += ["-d", f"tcp.port=={port},tls", "-Y", "websocket", "-T", "fields", "-e", "frame.number"]
    cmd += ["-e", "tcp.stream", "-e", "websocket.opcode", "-E", "occurrence=a", "-E", "aggregator=,"]
    rows = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    theirs = [(int(r.split("\t")[0]), int(op)) for r in rows for op in r.split("\t")[2].split(",") if op]
    ours = []
    for c in analysis(NAME).connections:
        if c.websocket is not None:
            ours += [(f["frame"], f["opcode"]) for f in c.websocket.to_dict()["frames"]]
    assert len(theirs) >= 20
    assert sorted(ours) == sorted(theirs)


@pytest.mark.tshark
def test_http_polls_agree_with_tshark(tshark: str) -> None:
    port = expected(NAME)["port"]
    cmd = [tshark, "-r", str(capture(NAME)), "-o", f"tls.keylog_file:{keylog_path(NAME)}"]
    cmd += ["-d", f"tcp.port=={port},tls", "-Y", "http", "-T", "fields", "-e", "frame.number"]
    cmd += ["-e", "http.request.method", "-e", "http.response.code"]
    rows = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    theirs_req = sorted(int(r.split("\t")[0]) for r in rows if r.split("\t")[1])
    theirs_resp = sorted(int(r.split("\t")[0]) for r in rows if r.split("\t")[2])
    ours_req, ours_resp = [], []
    for c in analysis(NAME).connections:
        for x in c.http:
            if x.request is not None:
                ours_req.append(x.request.frame)
            if x.response is not None:
                ours_resp.append(x.response.frame)
    assert sorted(ours_req) == theirs_req and sorted(ours_resp) == theirs_resp
