"""Record captures/h2/hostile/h2c-python-hostile.pcap: hostile header values over h2c, for the web
UI's tests (they must stay text on every page). Real traffic: a hyper-h2 client and server on
loopback (h2c with prior knowledge, RFC 9113 §3.3), tcpdump on `lo`, as root:

    python captures/h2/make_h2_hostile.py

The client sends two requests whose `:path` and header values are markup and script; the server
answers each with a hostile response header and body, then the client sends GOAWAY. Beside the
capture, `h2c-python-hostile.expected.json`: what both sides' h2 events said (not a dissector's
output). It lives in its own folder so that tests/h2 (one record shape per capture) and the
golden outputs (captures/*.pcap*) do not take it.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tls")]

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
from make_tls_captures import Recorder  # noqa: E402

NAME = "h2c-python-hostile"
PORT = 8479
OUT = HERE / "hostile"
PATHS = [
    "/socket.io/?EIO=4&transport=polling&x=<img src=x onerror=alert(1)>",
    "/<script>alert('path')</script>",
]
REQ_HEADER = ("x-evil", '<script>alert("h2-request")</script>')
RESP_HEADER = ("x-evil-response", "<img src=x onerror=alert('h2-response')>")
BODY = b"<b>bold</b><script>alert('body')</script>"


def _read(conn: h2.connection.H2Connection, sock: socket.socket) -> list[Any]:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("closed")
    events = conn.receive_data(data)
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    return events


def serve(listener: socket.socket, seen: list[dict[str, Any]]) -> None:
    sock, _ = listener.accept()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    try:
        while True:
            for ev in _read(conn, sock):
                if isinstance(ev, h2.events.RequestReceived):
                    headers = dict(ev.headers)
                    seen.append(
                        {"stream_id": ev.stream_id, "path": headers[":path"], "x-evil": headers["x-evil"]}
                    )
                    conn.send_headers(
                        ev.stream_id,
                        [(":status", "200"), RESP_HEADER, ("content-length", str(len(BODY)))],
                    )
                    conn.send_data(ev.stream_id, BODY, end_stream=True)
                    sock.sendall(conn.data_to_send())
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return
    except ConnectionError:
        return
    finally:
        sock.close()


def client(got: list[dict[str, Any]]) -> None:
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    for path in PATHS:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(
            sid,
            [
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "localhost"),
                (":path", path),
                REQ_HEADER,
            ],
            end_stream=True,
        )
        sock.sendall(conn.data_to_send())
        status, body, done = None, b"", False
        while not done:
            for ev in _read(conn, sock):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
        got.append({"stream_id": sid, "status": status, "body_length": len(body)})
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()


def main() -> int:
    OUT.mkdir(exist_ok=True)
    pcap = OUT / f"{NAME}.pcap"
    seen: list[dict[str, Any]] = []
    got: list[dict[str, Any]] = []
    listener = socket.create_server(("127.0.0.1", PORT))
    with Recorder((PORT,), pcap):
        thread = threading.Thread(target=serve, args=(listener, seen), daemon=True)
        thread.start()
        client(got)
        thread.join(timeout=10)
    listener.close()
    record = {
        "scenario": NAME,
        "captures": [pcap.name],
        "keylog": None,
        "shows": "hostile :path and header values (markup, script) over h2c, and a GOAWAY",
        "libraries": {"h2": version("h2"), "hpack": version("hpack"), "hyperframe": version("hyperframe")},
        "recorded": dt.date.today().isoformat(),
        "command": "python captures/h2/make_h2_hostile.py",
        "request_header": list(REQ_HEADER),
        "response_header": list(RESP_HEADER),
        "server": {"requests": seen},
        "client": {"responses": got},
    }
    (OUT / f"{NAME}.expected.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"{pcap}: {pcap.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
