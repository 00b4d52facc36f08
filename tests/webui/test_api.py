"""The JSON API: the analysis document in the ANALYSIS_JSON.md schema, paged, and the views' data."""

from __future__ import annotations

import json

from flask.testing import FlaskClient

from tests.webui.conftest import CSRF, rows
from tests.webui.synthetic import EVIL, EVIL_NSP, synthetic_doc


def test_captures_list(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    body = c.get("/api/captures").get_json()
    assert body["total"] == 1
    item = body["items"][0]
    assert item["id"] == cid and item["name"] == "sio-python-websocket-only.pcap" and item["source"] == "cli"
    assert "path" not in item  # ids, never paths
    assert c.get(f"/api/captures/{cid}").get_json()["id"] == cid


def test_whole_document_round_trips(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    assert c.get(f"/api/captures/{cid}/analysis").get_json() == json.loads(json.dumps(synthetic_doc()))


def test_sections_are_paged(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    doc = synthetic_doc()
    r = c.get(
        f"/api/captures/{cid}/analysis", query_string={"section": "connections", "offset": 1, "limit": 1}
    )
    body = r.get_json()
    assert (body["total"], body["offset"], body["limit"]) == (2, 1, 1)
    assert body["items"] == [json.loads(json.dumps(doc["connections"][1]))]
    cap = c.get(f"/api/captures/{cid}/analysis", query_string={"section": "capture"}).get_json()
    assert cap["value"]["packets"] == 60
    assert c.get(f"/api/captures/{cid}/analysis", query_string={"section": "nope"}).status_code == 400
    sessions = c.get(f"/api/captures/{cid}/sessions").get_json()
    assert sessions["total"] == 1 and sessions["items"][0]["sid"] == doc["engineio_sessions"][0]["sid"]
    conns = c.get(f"/api/captures/{cid}/connections", query_string={"limit": 1}).get_json()
    assert conns["total"] == 2 and [x["id"] for x in conns["items"]] == [0]


def test_anomalies_with_registry_info(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    body = c.get(f"/api/captures/{cid}/anomalies").get_json()
    assert body["total"] == 3
    assert body["items"][0]["code"] == "ws.client-frame-unmasked"
    info = body["codes"]["ws.client-frame-unmasked"]
    assert info["severity"] == "error" and info["layer"] == "websocket" and "6455" in info["reference"]
    assert body["codes"]["not.registered-code"] is None
    only = c.get(f"/api/captures/{cid}/anomalies", query_string={"severity": "note"}).get_json()
    assert [a["code"] for a in only["items"]] == ["tcp.retransmission"]


def test_messages_filters_and_paging(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    everything = rows(c, cid)
    assert len(everything) == 51
    assert [r["id"] for r in everything] == list(range(51))
    sio = rows(c, cid, layer="socketio")
    assert [r["type"] for r in sio] == ["CONNECT", "EVENT", "ACK", "BINARY_EVENT", "EVENT", "EVENT"]
    assert [r["event"] for r in rows(c, cid, layer="socketio", direction="c2s", type="EVENT")] == ["chat"]
    assert [r["nsp"] for r in rows(c, cid, nsp=EVIL_NSP)] == [EVIL_NSP]
    assert [r["layer"] for r in rows(c, cid, q="pwned=1", layer="socketio")] == ["socketio"]
    page = c.get(f"/api/captures/{cid}/messages", query_string={"offset": 10, "limit": 5}).get_json()
    assert page["total"] == 51 and [r["id"] for r in page["items"]] == [10, 11, 12, 13, 14]
    huge = c.get(f"/api/captures/{cid}/messages", query_string={"limit": 10**9}).get_json()
    assert huge["limit"] <= 1000


def test_message_detail_json(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    chat = next(r for r in rows(c, cid, layer="socketio") if r["event"] == "chat")
    d = c.get(f"/api/captures/{cid}/messages/{chat['id']}").get_json()
    assert d["record"]["args"] == [EVIL, {"x": 1}]
    assert [s["layer"] for s in d["sections"]] == ["socketio", "engineio", "websocket", "packet", "packet"]
    assert d["frames"] == [20, 21]
    assert c.get(f"/api/captures/{cid}/messages/9999").status_code == 404


def test_packets(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    body = c.get(f"/api/captures/{cid}/packets", query_string={"frames": "1,2,3"}).get_json()
    assert [p["frame"] for p in body["items"]] == [1, 2, 3]
    tcp = body["items"][0]["layers"][2]
    assert tcp["layer"] == "transport" and tcp["fields"]["flags"] == ["SYN"]
    assert body["items"][0]["rows"] == [0]  # the SYN row of the synthetic document
    assert c.get(f"/api/captures/{cid}/packets").status_code == 400
    many = c.get(f"/api/captures/{cid}/packets", query_string={"frames": "1-100000"}).get_json()
    assert len(many["frames"]) <= 200


def test_sequence(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    body = c.get(
        f"/api/captures/{cid}/sequence", query_string={"connection": 1, "layers": "tcp,http"}
    ).get_json()
    assert [(r["layer"], r["summary"]) for r in body["items"]][:5] == [
        ("tcp", "SYN"),
        ("tcp", "SYN-ACK"),
        ("tcp", "ACK"),
        ("http", "GET /socket.io/?EIO=4&transport=websocket&sid=x"),
        ("http", "101 Switching Protocols"),
    ]
    assert body["client"] == "127.0.0.1:40001" and body["server"] == "127.0.0.1:3000"
    sess = c.get(
        f"/api/captures/{cid}/sequence", query_string={"session": 0, "layers": "engineio"}
    ).get_json()
    assert [r["summary"] for r in sess["items"]][3:6] == ["2probe", "3probe", "5"]
    assert sess["total"] == 14
    assert c.get(f"/api/captures/{cid}/sequence").status_code == 400
    assert c.get(f"/api/captures/{cid}/sequence", query_string={"session": 5}).status_code == 404
    assert c.get(f"/api/captures/{cid}/sequence", query_string={"connection": 7}).status_code == 404


def test_figures(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    tl = c.get(f"/api/captures/{cid}/figures/timeline").get_json()
    assert tl["meta"]["binned"] is False and tl["meta"]["points"] == 51
    assert sum(len(t["x"]) for t in tl["data"] if t["name"] != "anomaly") == 51
    zoom = c.get(f"/api/captures/{cid}/figures/timeline", query_string={"t0": 0.095, "t1": 0.135}).get_json()
    assert zoom["meta"]["points"] == 3 and zoom["layout"]["xaxis"]["range"] == [0.095, 0.135]
    osi = c.get(f"/api/captures/{cid}/figures/osi").get_json()
    assert osi["data"][0]["y"][0] == "Link"
    for name in ("tcp_handshake", "upgrades", "ws_ping", "heartbeat", "acks"):
        assert c.get(f"/api/captures/{cid}/figures/latency-{name}").status_code == 200
    assert c.get(f"/api/captures/{cid}/figures/nope").status_code == 404
    text = c.get(f"/api/captures/{cid}/figures/timeline").get_data(as_text=True)
    assert "<script" not in text and "<svg" not in text and "<img" not in text


def test_latency_and_overview(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    lat = c.get(f"/api/captures/{cid}/latency").get_json()
    assert [h["ms"] for h in lat["tcp_handshake"]] == [20.0, 20.0]
    ov = c.get(f"/api/captures/{cid}/overview").get_json()
    assert ov["rows_per_layer"]["socketio"] == 6
    assert ov["anomalies_by_severity"] == {"error": 1, "warn": 1, "note": 1, "chat": 0}


def test_api_errors_are_json(synth: tuple[FlaskClient, str]) -> None:
    c, _ = synth
    for url in ("/api/captures/0123456789abcdef/analysis", "/api/captures/zz/messages", "/api/nope"):
        r = c.get(url)
        assert r.status_code == 404 and r.is_json and "error" in r.get_json()


def test_api_upload(synth: tuple[FlaskClient, str]) -> None:
    import io

    from tests.webui.conftest import SYNTH_PCAP

    c, _ = synth
    data = SYNTH_PCAP.read_bytes()
    r = c.post("/api/captures", data={"file": (io.BytesIO(data), "mine.pcap")})
    assert r.status_code == 403  # no CSRF token
    assert c.get("/api/csrf-token").get_json()["csrf_token"] == CSRF
    r = c.post(
        "/api/captures", data={"file": (io.BytesIO(data), "mine.pcap")}, headers={"X-CSRF-Token": CSRF}
    )
    assert r.status_code == 201 and r.get_json()["name"] == "mine.pcap" and r.get_json()["source"] == "upload"
    r = c.post(
        "/api/captures", data={"file": (io.BytesIO(b"GIF89a..."), "x.pcap")}, headers={"X-CSRF-Token": CSRF}
    )
    assert r.status_code == 400 and "not a pcap" in r.get_json()["error"]


def test_an_event_and_its_ack_name_each_other(synth: tuple[FlaskClient, str]) -> None:
    c, cid = synth
    event = c.get(f"/api/captures/{cid}/messages/24", query_string={"packets": "0"}).get_json()["ack"]
    assert event == {"role": "request", "row": 27, "ack_id": 1, "event": "chat", "latency_ms": 10.0}
    ack = c.get(f"/api/captures/{cid}/messages/27", query_string={"packets": "0"}).get_json()["ack"]
    assert ack["role"] == "response" and ack["row"] == 24 and ack["latency_ms"] == 10.0
    unanswered = c.get(f"/api/captures/{cid}/messages/44", query_string={"packets": "0"}).get_json()["ack"]
    assert unanswered["row"] is None and unanswered["ack_id"] == 7
    assert c.get(f"/api/captures/{cid}/messages/0", query_string={"packets": "0"}).get_json()["ack"] is None
    html = c.get(f"/c/{cid}/messages/44").get_data(as_text=True)
    assert "Asks for an ack (id 7)" in html and "none in the capture" in html
