"""HAR 1.2 export, with WebSocket messages the way Chrome DevTools writes them.

Every HTTP exchange of the selected connections is an entry (Engine.IO long-polling included,
bodies in `text`, base64 with `encoding: "base64"` when they are binary). A WebSocket
connection is the entry of its upgrade request (status 101, `_resourceType: "websocket"`)
carrying its text and binary messages in `_webSocketMessages`: `type` "send" (client to
server) or "receive", `time` in epoch seconds, `opcode` 1 or 2, `data` the text, or base64 for
binary (as the Chrome DevTools protocol's `payloadData`).

Timings come from the packet timestamps (HAR 1.2 "timings"): the entry starts at the first
packet of the request; `send` runs to its last packet, `wait` to the first packet of the
response, `receive` to its last packet. DNS, TLS and connection set-up are not part of an
exchange here: `blocked`, `dns`, `connect`, `ssl` are -1 ("does not apply").

The entries and their pieces are made here; the sink that writes the document is
analyzer/export/har_stream.py.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from analyzer.capture.frametimes import packet_times
from analyzer.export.jsonl import json_line
from analyzer.model.analysis import ConnectionRecord
from analyzer.model.records import Headers, HttpExchange, HttpRequest, HttpResponse, header_value
from analyzer.protocols.engineio import parse_engineio_query

__all__ = [
    "HAR_TAIL",
    "exchange_entry",
    "exchange_timings",
    "har_head",
    "har_time",
    "headless_entry",
    "packet_times",
    "timing_keys",
    "upgrade_exchange",
    "ws_message",
]

HAR_VERSION = "1.2"
MAX_COOKIES = 200  # per header set: captured headers are hostile
MAX_QUERY_FIELDS = 200
_MAX_TARGET = 16384


def har_time(ts: float) -> str:
    """ISO 8601 in UTC with microseconds, as `startedDateTime` wants (HAR 1.2 "entries")."""
    try:
        dt = datetime.fromtimestamp(ts, tz=UTC)
    except (OverflowError, OSError, ValueError):
        dt = datetime.fromtimestamp(0, tz=UTC)
    return dt.isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- pieces of an entry --------------------------------------------------------------------------------
def _headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers]


def _all_values(headers: Headers, name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def _request_cookies(headers: Headers) -> list[dict[str, Any]]:
    """Cookie header pairs (RFC 6265 §5.4)."""
    out: list[dict[str, Any]] = []
    for value in _all_values(headers, "cookie"):
        for part in value.split(";"):
            name, eq, val = part.strip().partition("=")
            if eq and name and len(out) < MAX_COOKIES:
                out.append({"name": name, "value": val})
    return out


def _response_cookies(headers: Headers) -> list[dict[str, Any]]:
    """Set-Cookie headers with their attributes (RFC 6265 §5.2)."""
    out: list[dict[str, Any]] = []
    for value in _all_values(headers, "set-cookie")[:MAX_COOKIES]:
        first, *attrs = value.split(";")
        name, eq, val = first.strip().partition("=")
        if not eq or not name:
            continue
        cookie: dict[str, Any] = {"name": name, "value": val, "httpOnly": False, "secure": False}
        for a in attrs[:32]:
            k, _, v = a.strip().partition("=")
            k = k.lower()
            if k in ("path", "domain", "expires"):
                cookie[k] = v
            elif k == "httponly":
                cookie["httpOnly"] = True
            elif k == "secure":
                cookie["secure"] = True
        out.append(cookie)
    return out


def _host(conn: ConnectionRecord, headers: Headers) -> str:
    host = header_value(headers, "host") or header_value(headers, ":authority")  # HTTP/2: RFC 9113 §8.3.1
    if host:
        return host
    ip, port = str(conn.server.get("ip", "")), conn.server.get("port", "")
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _url(conn: ConnectionRecord, req: HttpRequest, scheme: str) -> str:
    target = req.target
    if "://" in target[:16]:  # absolute-form (RFC 9112 §3.2.2)
        return target
    if not target.startswith("/"):  # authority-form or asterisk-form (§3.2.3, §3.2.4)
        target = "/" + target if target != "*" else "/"
    return f"{scheme}://{_host(conn, req.headers)}{target}"


def _query(target: str) -> list[dict[str, str]]:
    try:
        query = urlsplit(target[:_MAX_TARGET]).query
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return []
    return [{"name": k, "value": v} for k, v in pairs]


def _is_binary(body: bytes, content_type: str | None) -> bool:
    if content_type is not None and content_type.split(";")[0].strip().lower() == "application/octet-stream":
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _body_text(body: bytes, content_type: str | None) -> dict[str, Any]:
    if _is_binary(body, content_type):
        return {"text": base64.b64encode(body).decode("ascii"), "encoding": "base64"}
    return {"text": body.decode("utf-8")}


def _body_size(headers: Headers, body: bytes, truncated: bool) -> int:
    """Bytes of the body on the wire: Content-Length, else the body when no coding was undone."""
    cl = (header_value(headers, "content-length") or "").strip()
    if cl.isascii() and cl.isdigit() and len(cl) < 19:  # RFC 9110 §8.6: 1*DIGIT
        return int(cl)
    if header_value(headers, "transfer-encoding") or header_value(headers, "content-encoding") or truncated:
        return -1
    return len(body)


def _request(conn: ConnectionRecord, req: HttpRequest, scheme: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "method": req.method,
        "url": _url(conn, req, scheme),
        "httpVersion": req.version,
        "cookies": _request_cookies(req.headers),
        "headers": _headers(req.headers),
        "queryString": _query(req.target),
        "headersSize": -1,
        "bodySize": _body_size(req.headers, req.body, req.body_truncated),
    }
    if req.body:
        ct = header_value(req.headers, "content-type")
        post: dict[str, Any] = {"mimeType": ct or "application/octet-stream", "params": []}
        post.update(_body_text(req.body, ct))
        if req.body_truncated:
            post["comment"] = "body cut at the capture bound"
        out["postData"] = post
    return out


def _response(resp: HttpResponse | None) -> dict[str, Any]:
    if resp is None:
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": "no response in the capture",
        }
    ct = header_value(resp.headers, "content-type")
    content: dict[str, Any] = {"size": len(resp.body), "mimeType": ct or "x-unknown"}
    if resp.body:
        content.update(_body_text(resp.body, ct))
    if resp.body_truncated:
        content["comment"] = "body cut at the capture bound"
    return {
        "status": resp.status,
        "statusText": resp.reason,
        "httpVersion": resp.version,
        "cookies": _response_cookies(resp.headers),
        "headers": _headers(resp.headers),
        "content": content,
        "redirectURL": header_value(resp.headers, "location") or "",
        "headersSize": -1,
        "bodySize": 0 if resp.status == 101 else _body_size(resp.headers, resp.body, resp.body_truncated),
    }


def _ms(a: float, b: float) -> float:
    """Milliseconds from a to b, never negative (HAR timings are durations)."""
    return round(max(0.0, (b - a) * 1000.0), 3)


def exchange_timings(
    req_first: int | None,
    req_ts: float,
    resp_first: int | None,
    resp_ts: float | None,
    times: Mapping[int, float],
) -> tuple[float, dict[str, float]]:
    """(start ts, timings) of an exchange from the first packet and the end of its request and
    response; a packet not in `times` counts as the record's own ts."""
    start = times.get(req_first, req_ts) if req_first is not None else req_ts
    start = min(start, req_ts)
    send = _ms(start, req_ts)
    wait = receive = 0.0
    if resp_ts is not None:
        first = times.get(resp_first, resp_ts) if resp_first is not None else resp_ts
        first = min(first, resp_ts)
        wait = _ms(req_ts, first)
        receive = _ms(first, resp_ts)
    return start, {
        "blocked": -1,
        "dns": -1,
        "connect": -1,
        "ssl": -1,
        "send": send,
        "wait": wait,
        "receive": receive,
    }


def timing_keys(x: HttpExchange) -> tuple[int | None, float, int | None, float | None]:
    """What exchange_timings needs of an exchange (which has a request)."""
    req, resp = x.request, x.response
    assert req is not None
    return (
        req.frames[0] if req.frames else None,
        req.ts,
        resp.frames[0] if resp is not None and resp.frames else None,
        resp.ts if resp is not None else None,
    )


def ws_message(m: dict[str, Any]) -> dict[str, Any]:
    """A WebSocket message (as in the analysis document) as Chrome DevTools writes it."""
    msg: dict[str, Any] = {
        "type": "send" if m["direction"] == "c2s" else "receive",
        "time": m["ts"],
        "opcode": 1 if m["opcode"] == "text" else 2,
    }
    if m["opcode"] == "text":
        text = m["text"]
        if text is None:  # RFC 6455 §8.1: not UTF-8; shown with U+FFFD, flagged
            text = bytes.fromhex(m["data_hex"] or "").decode("utf-8", "replace")
            msg["_invalidUtf8"] = True
        msg["data"] = text
    else:
        msg["data"] = base64.b64encode(bytes.fromhex(m["data_hex"] or "")).decode("ascii")
    if m["truncated"]:
        msg["_truncated"] = True
        msg["_length"] = m["length"]
    return msg


def exchange_entry(conn: ConnectionRecord, x: HttpExchange, websocket: bool) -> dict[str, Any]:
    """The entry of an exchange (which has a request), `websocket`: the upgrade of its connection.
    What the end of the capture settles is left for the sink to fill in: the session (`sid`),
    and the start and timings, made here from the exchange's own packets only (its last ones)."""
    req = x.request
    assert req is not None
    scheme = ("ws" if websocket else "http") + ("s" if conn.tls is not None else "")  # wss://, https://
    start, timings = exchange_timings(*timing_keys(x), {})
    if websocket:
        rtype = "websocket"
    elif parse_engineio_query(req.target) is not None:
        rtype = "xhr"
    else:
        rtype = "other"
    return {
        "startedDateTime": har_time(start),
        "time": round(timings["send"] + timings["wait"] + timings["receive"], 3),
        "request": _request(conn, req, scheme),
        "response": _response(x.response),
        "cache": {},
        "timings": timings,
        "serverIPAddress": str(conn.server.get("ip", "")),
        "connection": str(conn.id),
        "_resourceType": rtype,
        "_socketscope": {
            "connection": conn.id,
            "exchange": x.index,
            "sid": None,
            "request_frames": list(req.frames),
            "response_frames": list(x.response.frames) if x.response is not None else [],
        },
    }


def upgrade_exchange(conn: ConnectionRecord) -> int | None:
    """Index in conn.http of the exchange that opened its WebSocket: the first 101 answer to
    the handshake's request (RFC 6455 §4), or the extended CONNECT of its HTTP/2 stream (RFC 8441),
    None when the handshake is not in the capture."""
    ws = conn.websocket
    if ws is None:
        return None
    hs = ws.handshake
    upgrade_frame = hs["request_frame"] if hs is not None else None
    h2_stream = hs.get("h2_stream_id") if hs is not None else None  # RFC 8441: a 2xx to the extended CONNECT
    for i, x in enumerate(conn.http):
        if (
            x.request is not None
            and x.response is not None
            and (x.response.status == 101 or (h2_stream is not None and x.request.stream_id == h2_stream))
            and (upgrade_frame is None or x.request.frame == upgrade_frame)
        ):
            return i
    return None


def headless_entry(conn: ConnectionRecord, start: float) -> dict[str, Any]:
    """A WebSocket decoded without its handshake (--decode-as): the entry HAR viewers need, marked so.
    `start`: its first message, else the connection's first packet. The sink fills in the `sid`."""
    ip, port = str(conn.server.get("ip", "")), conn.server.get("port", "")
    host = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    return {
        "startedDateTime": har_time(start),
        "time": 0,
        "request": {
            "method": "GET",
            "url": f"{'wss' if conn.tls is not None else 'ws'}://{host}/",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 101,
            "statusText": "Switching Protocols",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": 0, "receive": 0},
        "serverIPAddress": ip,
        "connection": str(conn.id),
        "comment": "the WebSocket handshake is not in the capture: request and response are placeholders",
        "_resourceType": "websocket",
        "_socketscope": {"connection": conn.id, "exchange": None, "sid": None, "handshake_captured": False},
    }


def har_head(comment: str | None = None) -> str:
    """The HAR text before the first entry."""
    from analyzer.version import __version__

    log_head: dict[str, Any] = {
        "version": HAR_VERSION,
        "creator": {"name": "socketscope", "version": __version__},
        "pages": [],
    }
    if comment is not None:
        log_head["comment"] = comment
    head = json_line({"log": log_head}).rstrip("\n")
    # '{"log":{...}}' -> open the log object again to append "entries"
    return head[:-2] + ',"entries":[\n'


HAR_TAIL = "\n]}}\n"
