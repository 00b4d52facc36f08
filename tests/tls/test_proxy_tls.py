"""TLS behind a proxy handshake: a SOCKS5 proxy (captures/tls/ws-websockets-tls13-socks5.pcap, a
real python `websockets` client through python-socks and a relay on loopback; on the client's leg
the SOCKS5 handshake comes first, then TLS) and a load balancer speaking the PROXY protocol v2 to
its backend (ws-websockets-tls13-proxy-v2.pcap: the v2 header, then TLS). The leg to the TLS
server carries the same TLS bytes without the proxy's.

The oracle is the capture itself: both legs carry the same TLS records (the relay forwards the
ciphertext byte for byte), read here from the packets' bytes (RFC 8446 §5.1 headers; the SOCKS5
greeting and request of RFC 1928 §3-4, or the v2 header of proxy-protocol.txt §2.2, skipped by
their own lengths). A WebSocket frame's first
and last packets must hold a byte of the same records on both legs: with the proxy's bytes
counted wrongly, the proxied leg names the packet before (the HTTP request's record). The relay
leg itself is checked against tshark in test_tshark-like fashion here, and the detail page and
`export --format pcap` are checked on the proxied leg."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest

from analyzer.cli import main
from analyzer.pipeline.access import read_packets
from tests.tls.common import analysis, capture, expected, keylog_path

NAMES = ["ws-websockets-tls13-socks5", "ws-websockets-tls13-proxy-v2"]


def _socks5_lengths(c2s: bytes, s2c: bytes) -> tuple[int, int]:
    """The bytes of the SOCKS5 handshake in each direction (RFC 1928 §3, §4, §6)."""
    greeting = 2 + c2s[1]
    atyp = c2s[greeting + 3]
    addr = {1: 4, 4: 16}.get(atyp, 1 + c2s[greeting + 4] if atyp == 3 else 0)
    request = 4 + addr + 2
    reply_atyp = s2c[5]
    reply = 4 + {1: 4, 4: 16}.get(reply_atyp, 1 + s2c[6] if reply_atyp == 3 else 0) + 2
    return greeting + request, 2 + reply


def _proxy_lengths(protocol: str, c2s: bytes, s2c: bytes) -> tuple[int, int]:
    if protocol == "socks5":
        return _socks5_lengths(c2s, s2c)
    assert protocol == "proxy-v2" and c2s[12] == 0x21  # version 2, PROXY (§2.2)
    return 16 + int.from_bytes(c2s[14:16]), 0


def _streams(name: str, frames: range, server_port: int) -> dict[str, list[tuple[int, int, bytes]]]:
    """Per direction: (seq, frame, payload) of the packets of one connection, retransmissions dropped."""
    out: dict[str, dict[int, tuple[int, bytes]]] = {"c2s": {}, "s2c": {}}
    for pkt in read_packets(str(capture(name)), frames):
        tcp = next(x for x in pkt["layers"] if x["name"] == "TCP")["fields"]
        payload = bytes.fromhex(pkt["hex"])[pkt["payload_offset"] :][: tcp["payload_length"]]
        if server_port not in (tcp["src_port"], tcp["dst_port"]) or not payload:
            continue
        d = "s2c" if tcp["src_port"] == server_port else "c2s"
        out[d].setdefault(tcp["seq"], (pkt["frame"], payload))
    return {d: [(seq, f, p) for seq, (f, p) in sorted(v.items())] for d, v in out.items()}


def _records(segments: list[tuple[int, int, bytes]], skip: int) -> list[tuple[bytes, list[int]]]:
    """The TLS records of a direction after `skip` bytes: (the record's bytes, its packets)."""
    data = b"".join(p for _, _, p in segments)
    owner = [f for _, f, p in segments for _ in p]  # the packet of each stream byte
    out = []
    at = skip
    while at + 5 <= len(data):
        assert data[at] in (20, 21, 22, 23) and data[at + 1] == 3, f"not a record header at {at}"
        end = at + 5 + int.from_bytes(data[at + 3 : at + 5])
        out.append((data[at:end], sorted(set(owner[at:end]))))
        at = end
    return out


def _legs(name: str) -> dict[str, dict[str, Any]]:
    a = analysis(name)
    by_port = {c.server["port"]: c for c in a.connections}
    proxy = expected(name)["proxy"]
    legs = {"proxied": by_port[proxy["port"]], "direct": by_port[expected(name)["port"]]}
    out: dict[str, dict[str, Any]] = {}
    for leg, conn in legs.items():
        span = range(conn.tcp["first_frame"], conn.tcp["last_frame"] + 1)
        streams = _streams(name, span, conn.server["port"])
        skip = {"c2s": 0, "s2c": 0}
        if leg == "proxied":
            c2s = b"".join(p for _, _, p in streams["c2s"])
            s2c = b"".join(p for _, _, p in streams["s2c"])
            skip["c2s"], skip["s2c"] = _proxy_lengths(proxy["protocol"], c2s, s2c)
            assert conn.proxy is not None and conn.proxy["handshake_bytes"] == skip
        out[leg] = {"conn": conn, "records": {d: _records(streams[d], skip[d]) for d in ("c2s", "s2c")}}
    return out


def _holding(records: list[tuple[bytes, list[int]]], frame: int) -> set[int]:
    return {i for i, (_, packets) in enumerate(records) if frame in packets}


@pytest.mark.parametrize("name", NAMES)
def test_proxied_leg_maps_tls_records_to_the_right_packets(name: str) -> None:
    legs = _legs(name)
    proxied, direct = legs["proxied"], legs["direct"]
    for d in ("c2s", "s2c"):  # the relay forwarded the same records
        assert [r for r, _ in proxied["records"][d]] == [r for r, _ in direct["records"][d]]
        assert len(proxied["records"][d]) == proxied["conn"].tls.records[d]
    assert proxied["conn"].tls.decrypted and direct["conn"].tls.decrypted
    frames_p = proxied["conn"].websocket.to_dict()["frames"]
    frames_d = direct["conn"].websocket.to_dict()["frames"]
    assert [(f["opcode"], f["payload_length"]) for f in frames_p] == [
        (f["opcode"], f["payload_length"]) for f in frames_d
    ]
    assert len(frames_p) >= 10
    for fp, fd in zip(frames_p, frames_d, strict=True):
        recs_p, recs_d = proxied["records"][fp["direction"]], direct["records"][fd["direction"]]
        first = _holding(recs_p, fp["packets"][0]) & _holding(recs_d, fd["packets"][0])
        last = _holding(recs_p, fp["frame"]) & _holding(recs_d, fd["frame"])
        assert first and last, (fp["packets"], fd["packets"])
        # every packet named holds a byte of the records that carried the frame, and no other
        wanted = set(range(min(first), max(last) + 1))
        assert set(fp["packets"]) <= {f for i in wanted for f in recs_p[i][1]}
    for leg in (proxied, direct):  # the HTTP upgrade, likewise
        (x,) = leg["conn"].http
        assert x.request is not None and x.response is not None
    req = [_holding(leg["records"]["c2s"], leg["conn"].http[0].request.frame) for leg in (proxied, direct)]
    assert req[0] & req[1]


@pytest.mark.parametrize("name", NAMES)
def test_alerts_and_anomalies_name_the_proxied_packets(name: str) -> None:
    legs = _legs(name)
    for leg in legs.values():
        tls = leg["conn"].tls
        assert [a.name for a in map(_alert, tls.alerts)] == ["close_notify", "close_notify"]
        for a in tls.alerts:
            assert _holding(leg["records"][a.direction], a.frame), (a.direction, a.frame)


def _alert(a: Any) -> Any:
    from analyzer.model.tls import alert_name

    return type("A", (), {"name": alert_name(a.description)})


@pytest.mark.parametrize("name", NAMES)
def test_detail_page_and_pcap_slice_of_the_proxied_leg(name: str, tmp_path: Path) -> None:
    from webui import create_app

    legs = _legs(name)
    proxied = legs["proxied"]
    app = create_app(
        captures=[str(capture(name))],
        folders=[],
        upload_dir=str(tmp_path / "up"),
        config={"TESTING": True, "ANALYSIS_WAIT": 120, "KEYLOG": _keys(name)},
    )
    with app.test_client() as c:
        cid = c.get("/api/captures").get_json()["items"][0]["id"]
        rows = c.get(f"/api/captures/{cid}/messages?limit=1000").get_json()["items"]
        ws_rows = [r for r in rows if r["layer"] == "websocket" and r["connection"] == proxied["conn"].id]
        assert ws_rows
        frames = {f["frame"]: f for f in proxied["conn"].websocket.to_dict()["frames"]}
        for r in ws_rows[:6]:
            detail = c.get(f"/api/captures/{cid}/messages/{r['id']}").get_json()
            assert set(detail["frames"]) <= {p for f in frames.values() for p in f["packets"]} | {r["frame"]}
            html = c.get(f"/c/{cid}/messages/{r['id']}").get_data(as_text=True)
            assert "TLS records of TCP connection #" in html and "application_data" in html

    out = tmp_path / "slice.pcapng"
    argv = ["export", str(capture(name)), "-q", "--format", "pcap", "--connection", str(proxied["conn"].id)]
    argv += ["--keylog", str(keylog_path(name)), "-o", str(out)]
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    from analyzer import analyze_file
    from analyzer.pipeline import Options

    again = analyze_file(str(out), Options(keylog=_keys(name)))
    (conn,) = again.connections
    assert conn.proxy is not None and conn.tls is not None and conn.tls.decrypted
    packets = proxied["conn"].tcp["packets"]
    assert conn.tcp["packets"] == packets
    ours = [(f["opcode"], f["payload_length"]) for f in conn.websocket.to_dict()["frames"]]
    assert ours == [(f["opcode"], f["payload_length"]) for f in proxied["conn"].websocket.to_dict()["frames"]]


def _keys(name: str) -> Any:
    from analyzer.pipeline import KeyLog

    k = KeyLog()
    k.add_text(keylog_path(name).read_bytes(), "keys")
    return k


@pytest.mark.tshark
@pytest.mark.parametrize("name", NAMES)
def test_relay_leg_agrees_with_tshark(tshark: str, name: str) -> None:
    """The direct leg's WebSocket frames are where tshark (with the key log) finds them, so the
    comparison above stands on a checked leg."""
    import subprocess

    port = expected(name)["port"]
    cmd = [tshark, "-r", str(capture(name)), "-o", f"tls.keylog_file:{keylog_path(name)}"]
    cmd += ["-d", f"tcp.port=={port},tls", "-Y", f"tcp.port=={port} && websocket", "-T", "fields"]
    cmd += ["-e", "frame.number", "-e", "websocket.opcode", "-E", "occurrence=a", "-E", "aggregator=,"]
    rows = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    theirs = [(int(r.split("\t")[0]), int(op)) for r in rows for op in r.split("\t")[1].split(",") if op]
    direct = _legs(name)["direct"]["conn"]
    assert [(f["frame"], f["opcode"]) for f in direct.websocket.to_dict()["frames"]] == theirs
