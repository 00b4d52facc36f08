"""tshark (`-o tls.keylog_file:KEYS`, `-d tcp.port==PORT,http2` for h2c) is the second oracle on the
HTTP/2 captures: the frames of each type in each direction of each connection, and each stream's
request (method, path) and response status, agree with socketscope's `http2` object and exchanges.

The one difference, explained: after an h2c Upgrade (h2c-python-upgrade) stream 1's request is the
HTTP/1.1 request (RFC 7540 §3.2); tshark shows it as HTTP, socketscope lists it as an HTTP/1.1
request (no stream_id) answered on stream 1, so it is not among the HTTP/2 requests compared.
The packet of each request and response (`frame`) is the packet tshark shows its END_STREAM frame
in, except for an RFC 8441 tunnel, whose exchange names the packets of its CONNECT and 2xx HEADERS
(the WebSocket handshake) while END_STREAM ends the WebSocket. tshark does not decode WebSocket
inside HTTP/2: each of the tunnel's WebSocket frames must name a packet where tshark shows a DATA
frame of the tunnel's stream in the same direction."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest

from analyzer.protocols.h2.frames import FRAME_NAMES
from tests.h2.common import analysis, capture, expected, keylog_path, names

pytestmark = pytest.mark.tshark

FIELDS = ("frame.number", "tcp.srcport", "tcp.dstport", "http2.streamid", "http2.type", "http2.flags",
          "http2.headers.method", "http2.headers.path", "http2.headers.status")  # fmt: skip


def _tshark(tshark: str, name: str) -> list[dict[str, list[str]]]:
    port = expected(name)["port"]
    cmd = ["nice", tshark, "-r", str(capture(name)), "-Y", "http2", "-T", "fields"]
    cmd += ["-E", "occurrence=a", "-E", "aggregator=|"]
    keys = keylog_path(name)
    if keys is not None:
        cmd += ["-o", f"tls.keylog_file:{keys}"]
    else:  # h2c: prior knowledge is dissected as http2, an Upgrade from http
        cmd += ["-d", f"tcp.port=={port},{'http' if 'upgrade' in name else 'http2'}"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    rows = []
    for line in out.splitlines():
        cells = line.split("\t")
        rows.append({f: [v for v in c.split("|") if v] for f, c in zip(FIELDS, cells, strict=True)})
    return rows


def _end_packets(rows: list[dict[str, list[str]]], port: int) -> dict[tuple[int, str, int], int]:
    """(client port, direction, stream) -> the packet of its DATA or HEADERS with END_STREAM."""
    out: dict[tuple[int, str, int], int] = {}
    for r in rows:
        server_sent = int(r["tcp.srcport"][0]) == port
        client = int(r["tcp.dstport"][0]) if server_sent else int(r["tcp.srcport"][0])
        d = "s2c" if server_sent else "c2s"
        for sid, t, flags in zip(r["http2.streamid"], r["http2.type"], r["http2.flags"], strict=False):
            if t in ("0", "1") and int(flags, 16) & 1:
                out.setdefault((client, d, int(sid)), int(r["frame.number"][0]))
    return out


def _data_packets(rows: list[dict[str, list[str]]], port: int, client: int, sid: int) -> set[tuple[str, int]]:
    out = set()
    for r in rows:
        server_sent = int(r["tcp.srcport"][0]) == port
        if (int(r["tcp.dstport"][0]) if server_sent else int(r["tcp.srcport"][0])) != client:
            continue
        for s, t in zip(r["http2.streamid"], r["http2.type"], strict=False):
            if t == "0" and int(s) == sid:
                out.add(("s2c" if server_sent else "c2s", int(r["frame.number"][0])))
    return out


@pytest.mark.parametrize("name", names())
def test_frames_and_streams_agree_with_tshark(tshark: str, name: str) -> None:
    port = expected(name)["port"]
    rows = _tshark(tshark, name)
    theirs: dict[int, Counter[tuple[str, str]]] = {}
    their_requests: dict[int, set[tuple[int, str, str]]] = {}
    their_status: dict[int, set[tuple[int, int]]] = {}
    for r in rows:
        client = int(r["tcp.dstport"][0]) if int(r["tcp.srcport"][0]) == port else int(r["tcp.srcport"][0])
        d = "s2c" if int(r["tcp.srcport"][0]) == port else "c2s"
        counts = theirs.setdefault(client, Counter())
        for t in r["http2.type"]:
            counts[(d, FRAME_NAMES.get(int(t), "UNKNOWN"))] += 1
        sids = [int(s) for s in r["http2.streamid"]]
        heads = [s for s, t in zip(sids, r["http2.type"], strict=False) if t == "1"]
        for sid, m, p in zip(heads, r["http2.headers.method"], r["http2.headers.path"], strict=False):
            their_requests.setdefault(client, set()).add((sid, m, p))
        for sid, st in zip(heads, r["http2.headers.status"], strict=False):
            their_status.setdefault(client, set()).add((sid, int(st)))
    compared = 0
    ends = _end_packets(rows, port)
    for conn in analysis(name).connections:
        if conn.http2 is None:
            continue
        client = conn.client["port"]
        ours = Counter({(d, t): n for d in ("c2s", "s2c") for t, n in conn.http2["frames"][d].items()})
        assert ours == theirs.get(client, Counter()), conn.id
        reqs = {
            (x.request.stream_id, x.request.method, x.request.target)
            for x in conn.http
            if x.request is not None and x.request.stream_id
        }
        assert reqs == their_requests.get(client, set())
        stats = {
            (x.response.stream_id, x.response.status)
            for x in conn.http
            if x.response is not None and x.response.stream_id
        }
        assert stats == their_status.get(client, set())
        # `frame`: the packet with the last byte of the frame that carried END_STREAM
        tunnel = (conn.websocket.handshake or {}).get("h2_stream_id") if conn.websocket is not None else None
        for x in conn.http:
            for d, m in (("c2s", x.request), ("s2c", x.response)):
                if m is None or m.stream_id is None or m.stream_id == tunnel:
                    continue  # an RFC 8441 tunnel's exchange is its CONNECT's HEADERS (the handshake)
                if (client, d, m.stream_id) in ends:
                    assert m.frame == ends[(client, d, m.stream_id)], (d, m.stream_id)
                    compared += 1
        if tunnel is not None and conn.websocket is not None:  # each WebSocket frame: a DATA packet of it
            data = _data_packets(rows, port, client, tunnel)
            frames = conn.websocket.to_dict()["frames"]
            assert frames and {(f["direction"], f["frame"]) for f in frames} <= data
    assert compared >= 3
