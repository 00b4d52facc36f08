"""HAR 1.2: structure (JSON Schema of what we emit), Chrome's `_webSocketMessages`, bodies, timings."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from analyzer.capture.pcapfile import open_capture
from tests.conftest import CAPTURES
from tests.export.common import BUNDLED, PCAP2HAR, WS_CAPTURES, analysis, expected, export_har
from tests.export.craft import conversation, sio_over_ws

_NV = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "value"],
        "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
    },
}
_ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"
# HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): the objects and fields we write
HAR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": {
            "type": "object",
            "required": ["version", "creator", "entries"],
            "properties": {
                "version": {"const": "1.2"},
                "creator": {
                    "type": "object",
                    "required": ["name", "version"],
                    "properties": {"name": {"const": "socketscope"}, "version": {"type": "string"}},
                },
                "pages": {"type": "array"},
                "entries": {"type": "array", "items": {"$ref": "#/definitions/entry"}},
            },
        }
    },
    "definitions": {
        "entry": {
            "type": "object",
            "required": ["startedDateTime", "time", "request", "response", "cache", "timings"],
            "properties": {
                "startedDateTime": {"type": "string", "pattern": _ISO},
                "time": {"type": "number", "minimum": 0},
                "request": {
                    "type": "object",
                    "required": [
                        "method",
                        "url",
                        "httpVersion",
                        "cookies",
                        "headers",
                        "queryString",
                        "headersSize",
                        "bodySize",
                    ],
                    "properties": {
                        "method": {"type": "string"},
                        "url": {"type": "string"},
                        "httpVersion": {"type": "string"},
                        "cookies": {"type": "array"},
                        "headers": _NV,
                        "queryString": _NV,
                        "headersSize": {"type": "integer", "minimum": -1},
                        "bodySize": {"type": "integer", "minimum": -1},
                        "postData": {
                            "type": "object",
                            "required": ["mimeType", "text"],
                            "properties": {
                                "mimeType": {"type": "string"},
                                "text": {"type": "string"},
                                "params": {"type": "array"},
                                "encoding": {"const": "base64"},
                            },
                        },
                    },
                },
                "response": {
                    "type": "object",
                    "required": [
                        "status",
                        "statusText",
                        "httpVersion",
                        "cookies",
                        "headers",
                        "content",
                        "redirectURL",
                        "headersSize",
                        "bodySize",
                    ],
                    "properties": {
                        "status": {"type": "integer"},
                        "statusText": {"type": "string"},
                        "httpVersion": {"type": "string"},
                        "cookies": {"type": "array"},
                        "headers": _NV,
                        "content": {
                            "type": "object",
                            "required": ["size", "mimeType"],
                            "properties": {
                                "size": {"type": "integer", "minimum": 0},
                                "mimeType": {"type": "string"},
                                "text": {"type": "string"},
                                "encoding": {"const": "base64"},
                            },
                        },
                        "redirectURL": {"type": "string"},
                        "headersSize": {"type": "integer", "minimum": -1},
                        "bodySize": {"type": "integer", "minimum": -1},
                    },
                },
                "cache": {"type": "object"},
                "timings": {
                    "type": "object",
                    "required": ["send", "wait", "receive"],
                    "properties": {
                        "blocked": {"type": "number", "minimum": -1},
                        "dns": {"type": "number", "minimum": -1},
                        "connect": {"type": "number", "minimum": -1},
                        "ssl": {"type": "number", "minimum": -1},
                        "send": {"type": "number", "minimum": 0},
                        "wait": {"type": "number", "minimum": 0},
                        "receive": {"type": "number", "minimum": 0},
                    },
                },
                "serverIPAddress": {"type": "string"},
                "connection": {"type": "string"},
                "_resourceType": {"enum": ["websocket", "xhr", "other"]},
                # Chrome DevTools' WebSocket messages (HARWriter / HARImporter)
                "_webSocketMessages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "time", "opcode", "data"],
                        "properties": {
                            "type": {"enum": ["send", "receive"]},
                            "time": {"type": "number"},
                            "opcode": {"enum": [1, 2]},
                            "data": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


def har(capture: Path | str, **kw: Any) -> dict[str, Any]:
    doc = export_har(capture, **kw)
    jsonschema.validate(doc, HAR_SCHEMA)
    assert doc["log"]["comment"] == "test"
    return doc


def frame_times(capture: Path | str) -> dict[int, float]:
    return {p.frame: p.ts for p in open_capture(str(capture))}


def test_schema_rejects_what_it_should() -> None:
    bad = {"log": {"version": "1.2", "creator": {"name": "socketscope", "version": "1"}, "entries": [{}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, HAR_SCHEMA)


@pytest.mark.parametrize("capture", BUNDLED, ids=lambda p: p.name)
def test_every_exchange_and_websocket_is_an_entry(capture: Path) -> None:
    a = analysis(str(capture))
    doc = har(capture)
    entries = doc["log"]["entries"]
    assert len(entries) == sum(len(c.http) for c in a.connections)  # the upgrade is one of the exchanges
    starts = [
        datetime.fromisoformat(e["startedDateTime"].replace("Z", "+00:00")).timestamp() for e in entries
    ]
    assert starts == sorted(starts)
    ws_entries = [e for e in entries if e["_resourceType"] == "websocket"]
    ws_conns = [c for c in a.connections if c.websocket is not None]
    assert len(ws_entries) == len(ws_conns)
    for e, c in zip(sorted(ws_entries, key=lambda e: int(e["connection"])), ws_conns, strict=True):
        assert e["response"]["status"] == 101 and e["request"]["url"].startswith("ws://")
        msgs = e["_webSocketMessages"]
        assert c.websocket is not None and len(msgs) == len(c.websocket.messages)
        for m, r in zip(msgs, c.websocket.messages, strict=True):
            assert m["type"] == ("send" if r.direction.value == "c2s" else "receive")
            assert m["time"] == r.ts
            data = m["data"].encode() if m["opcode"] == 1 else base64.b64decode(m["data"])
            assert data == r.data
    for e in entries:
        t = e["timings"]
        assert e["time"] == pytest.approx(t["send"] + t["wait"] + t["receive"], abs=0.01)


@pytest.mark.parametrize("capture", WS_CAPTURES, ids=lambda p: p.name)
def test_websocket_messages_equal_what_the_applications_sent(capture: Path) -> None:
    want = expected(capture)["websocket"]["messages"]
    (entry,) = [e for e in har(capture)["log"]["entries"] if e["_resourceType"] == "websocket"]
    got = entry["_webSocketMessages"]
    assert len(got) == len(want)
    for m, w in zip(got, want, strict=True):
        assert m["type"] == ("send" if w["direction"] == "c2s" else "receive")
        assert m["opcode"] == (1 if w["opcode"] == "text" else 2)
        raw = m["data"].encode("utf-8") if m["opcode"] == 1 else base64.b64decode(m["data"])
        assert hashlib.sha256(raw).hexdigest() == w["sha256"]


def test_same_messages_as_pcap2har() -> None:
    """An independent HAR writer's output for the same capture (corpus/pcap2har golden file)."""
    golden = json.loads((PCAP2HAR.parent / "golden__test_websocket.py-test_websocket_parse.json").read_text())
    (g,) = [e for e in golden["log"]["entries"] if e.get("_resourceType") == "websocket"]
    (e,) = [e for e in har(PCAP2HAR)["log"]["entries"] if e["_resourceType"] == "websocket"]
    assert [(m["type"], m["opcode"], m["data"]) for m in e["_webSocketMessages"]] == [
        (m["type"], m["opcode"], m["data"]) for m in g["_webSocketMessages"]
    ]
    for m, gm in zip(e["_webSocketMessages"], g["_webSocketMessages"], strict=True):
        assert m["time"] == pytest.approx(gm["time"], abs=1e-6)
    assert e["request"]["headers"] == g["request"]["headers"]
    assert e["response"]["headers"] == g["response"]["headers"]
    assert e["serverIPAddress"] == g["serverIPAddress"]
    assert e["startedDateTime"] == g["startedDateTime"]


def test_polling_bodies_and_timings() -> None:
    cap = CAPTURES / "sio-python-polling-only.pcap"
    a = analysis(str(cap))
    times = frame_times(cap)
    entries = har(cap)["log"]["entries"]
    by_frames = {tuple(e["_socketscope"]["request_frames"]): e for e in entries}
    posts = 0
    for c in a.connections:
        for x in c.http:
            assert x.request is not None and x.response is not None
            e = by_frames[x.request.frames]
            assert e["_resourceType"] == "xhr" and e["_socketscope"]["sid"] == a.engineio_sessions[0].sid
            if x.request.method == "POST":
                posts += 1
                assert e["request"]["postData"]["text"].encode() == x.request.body
                assert "encoding" not in e["request"]["postData"]
            assert e["response"]["content"].get("text", "").encode() == x.response.body
            start = times[x.request.frames[0]]
            started = datetime.fromisoformat(e["startedDateTime"].replace("Z", "+00:00")).timestamp()
            assert started == pytest.approx(start, abs=1e-6)
            t = e["timings"]
            assert t["send"] == pytest.approx((times[x.request.frames[-1]] - start) * 1000, abs=1e-3)
            assert t["wait"] == pytest.approx(
                (times[x.response.frames[0]] - times[x.request.frames[-1]]) * 1000, abs=1e-3
            )
            assert t["receive"] == pytest.approx(
                (times[x.response.frames[-1]] - times[x.response.frames[0]]) * 1000, abs=1e-3
            )
            assert e["request"]["url"] == "http://" + dict(x.request.headers)["Host"] + x.request.target
            assert {(q["name"], q["value"]) for q in e["request"]["queryString"]} >= {
                ("transport", "polling")
            }
    assert posts >= 3


def test_binary_polling_bodies_are_base64() -> None:
    cap = CAPTURES / "sio-chromium-v2-eio3.pcap"  # Engine.IO v3 XHR2 binary payloads
    a = analysis(str(cap))
    binary = [
        (c.id, x)
        for c in a.connections
        for x in c.http
        if x.response is not None and x.response.body and b"\xff" in x.response.body
    ]
    assert binary
    entries = {(int(e["connection"]), e["_socketscope"]["exchange"]): e for e in har(cap)["log"]["entries"]}
    for cid, x in binary:
        content = entries[(cid, x.index)]["response"]["content"]
        assert x.response is not None
        assert content["encoding"] == "base64" and base64.b64decode(content["text"]) == x.response.body
        assert content["size"] == len(x.response.body)


def test_selection_applies() -> None:
    node = CAPTURES / "sio-node-v4-default.pcap"
    (sess,) = analysis(str(node)).engineio_sessions
    ws_id = next(c.id for c in analysis(str(node)).connections if c.websocket is not None)
    only_ws = har(node, connections=[ws_id])["log"]["entries"]
    assert [e["_resourceType"] for e in only_ws] == ["websocket"]
    assert {int(e["connection"]) for e in har(node, sids=[sess.sid])["log"]["entries"]} == set(
        sess.connections
    )
    assert har(node, sids=["nope"])["log"]["entries"] == []


def test_request_without_response_and_cookies(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    req = (
        b"POST /up?a=1&b=%20x HTTP/1.1\r\nHost: h.test\r\nCookie: s=1; t=2\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\nabc"
    )
    resp = b"HTTP/1.1 200 OK\r\nSet-Cookie: k=v; Path=/; HttpOnly\r\nContent-Length: 2\r\n\r\nok"
    cap.write_bytes(
        conversation([("c2s", req), ("s2c", resp), ("c2s", b"GET /x HTTP/1.1\r\nHost: h.test\r\n\r\n")])
    )
    e1, e2 = har(cap)["log"]["entries"]
    assert e1["request"]["cookies"] == [{"name": "s", "value": "1"}, {"name": "t", "value": "2"}]
    assert e1["request"]["queryString"] == [{"name": "a", "value": "1"}, {"name": "b", "value": " x"}]
    assert e1["request"]["postData"] == {
        "mimeType": "application/octet-stream",
        "params": [],
        "text": "YWJj",
        "encoding": "base64",
    }
    assert e1["request"]["bodySize"] == 3 and e1["response"]["bodySize"] == 2
    assert e1["response"]["cookies"] == [
        {"name": "k", "value": "v", "path": "/", "httpOnly": True, "secure": False}
    ]
    assert e1["_resourceType"] == "other"
    assert e2["response"]["status"] == 0 and e2["response"]["_error"]
    assert e2["timings"]["wait"] == 0


def test_hostile_strings_stay_valid(tmp_path: Path) -> None:
    cap = tmp_path / "evil.pcap"
    cap.write_bytes(
        sio_over_ws([("c2s", ["\ud800", "</script>"])], [("c2s", b"\xc3(", 1), ("s2c", b"\x00\xff", 2)])
    )
    doc = har(cap)  # written to a strict UTF-8 file
    msgs = doc["log"]["entries"][0]["_webSocketMessages"]
    assert msgs[-2]["_invalidUtf8"] is True and msgs[-2]["opcode"] == 1
    assert base64.b64decode(msgs[-1]["data"]) == b"\x00\xff"
