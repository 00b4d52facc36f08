"""pcap slices: re-analyzed, they give the same messages and events; timestamps exact to the ns."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from analyzer import analyze_file
from analyzer.capture.pcapfile import open_capture
from analyzer.model.analysis import Analysis
from tests.conftest import CAPTURES
from tests.export.common import BUNDLED, SIO_CAPTURES, analysis, export_slice
from tests.export.craft import T0, conversation, ws_frame
from tests.pcapwriter import pcap_bytes


def endpoints(c: Any) -> tuple[Any, ...]:
    return (c.client["ip"], c.client["port"], c.server["ip"], c.server["port"])


def ws_view(a: Analysis, keep: set[tuple[Any, ...]] | None = None) -> list[tuple[Any, ...]]:
    return [
        (endpoints(c), m.direction, round(m.ts, 6), m.opcode, m.data)
        for c in a.connections
        if c.websocket is not None and (keep is None or endpoints(c) in keep)
        for m in c.websocket.messages
    ]


def sio_view(a: Analysis, sid: str) -> list[tuple[Any, ...]]:
    (s,) = [s for s in a.engineio_sessions if s.sid == sid]
    assert s.socketio is not None
    out = []
    for p in s.socketio.packets:
        d = p.to_dict()
        out.append(
            (d["direction"], round(p.ts, 6), d["transport"], d["type"], d["nsp"], d["event"], d["data"])
        )
    return out


def eio_view(a: Analysis, sid: str) -> list[tuple[Any, ...]]:
    (s,) = [s for s in a.engineio_sessions if s.sid == sid]
    return [(p.direction, round(p.ts, 6), p.transport, p.packet.type, p.packet.data) for p in s.packets]


@pytest.mark.parametrize("capture", SIO_CAPTURES, ids=lambda p: p.name)
def test_session_slice_gives_the_same_session(capture: Path, tmp_path: Path) -> None:
    a = analysis(str(capture))
    (sess,) = a.engineio_sessions
    b, result = export_slice(capture, tmp_path / "s.pcapng", sids=[sess.sid])
    assert result.packets == b.capture.packets
    assert len(b.connections) == len(sess.connections)
    assert sio_view(b, sess.sid) == sio_view(a, sess.sid)
    assert eio_view(b, sess.sid) == eio_view(a, sess.sid)
    keep = {endpoints(c) for c in a.connections if c.id in sess.connections}
    assert ws_view(b) == ws_view(a, keep)


@pytest.mark.parametrize("capture", BUNDLED, ids=lambda p: p.name)
def test_each_connection_slice_holds_exactly_its_packets(capture: Path, tmp_path: Path) -> None:
    a = analysis(str(capture))
    for c in a.connections:
        b, result = export_slice(capture, tmp_path / f"c{c.id}.pcapng", connections=[c.id])
        assert result.packets == c.tcp["packets"]["c2s"] + c.tcp["packets"]["s2c"]
        (bc,) = b.connections
        assert endpoints(bc) == endpoints(c)
        assert bc.tcp["payload_bytes"] == c.tcp["payload_bytes"]
        assert ws_view(b) == ws_view(a, {endpoints(c)})
        assert [(x.request and x.request.target, x.response and x.response.status) for x in bc.http] == [
            (x.request and x.request.target, x.response and x.response.status) for x in c.http
        ]


def test_event_slice_has_the_whole_sessions(tmp_path: Path) -> None:
    node = CAPTURES / "sio-node-v4-default.pcap"
    (sess,) = analysis(str(node)).engineio_sessions
    b, _ = export_slice(node, tmp_path / "e.pcapng", events=["chat"])
    assert sio_view(b, sess.sid) == sio_view(analysis(str(node)), sess.sid)


def _pcapng_blocks(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        assert blen % 4 == 0 and struct.unpack_from("<I", data, pos + blen - 4)[0] == blen
        out.append((btype, data[pos + 8 : pos + blen - 4]))
        pos += blen
    return out


def _original_ticks_pcapng(path: Path) -> list[int]:
    """EPB timestamps of a little-endian pcapng whose interface has if_tsresol 9."""
    return [
        (struct.unpack_from("<I", body, 4)[0] << 32) | struct.unpack_from("<I", body, 8)[0]
        for btype, body in _pcapng_blocks(path.read_bytes())
        if btype == 6
    ]


def test_structure_and_exact_nanoseconds(tmp_path: Path) -> None:
    src = CAPTURES / "ws-node-ws.pcapng"  # recorded by dumpcap with nanosecond timestamps
    out = tmp_path / "all.pcapng"
    export_slice(src, out)
    blocks = _pcapng_blocks(out.read_bytes())
    assert [b for b, _ in blocks[:2]] == [0x0A0D0D0A, 1]
    shb = blocks[0][1]
    assert struct.unpack_from("<IHHq", shb) == (0x1A2B3C4D, 1, 0, -1)
    assert b"socketscope" in shb
    idb = blocks[1][1]
    assert struct.unpack_from("<HHI", idb) == (1, 0, 0)
    assert struct.pack("<HH", 9, 1) + b"\x09" in idb  # if_tsresol = 10^-9
    got = [
        (struct.unpack_from("<I", b, 4)[0] << 32) | struct.unpack_from("<I", b, 8)[0]
        for t, b in blocks
        if t == 6
    ]
    assert got == _original_ticks_pcapng(src)
    orig = [p.data for p in open_capture(str(src))]
    assert [p.data for p in open_capture(str(out))] == orig


def test_microsecond_pcap_keeps_its_times(tmp_path: Path) -> None:
    src = CAPTURES / "sio-python-polling-upgrade.pcap"
    out = tmp_path / "x.pcapng"
    export_slice(src, out)
    raw = src.read_bytes()
    pos, want = 24, []
    while pos < len(raw):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", raw, pos)
        want.append(sec * 10**9 + usec * 1000)
        pos += 16 + caplen
    blocks = _pcapng_blocks(out.read_bytes())
    got = [
        (struct.unpack_from("<I", b, 4)[0] << 32) | struct.unpack_from("<I", b, 8)[0]
        for t, b in blocks
        if t == 6
    ]
    assert got == want


@pytest.mark.tshark
def test_tshark_reads_the_slice_with_the_same_times(tmp_path: Path, tshark: str) -> None:
    src = CAPTURES / "ws-node-ws.pcapng"
    out = tmp_path / "t.pcapng"
    export_slice(src, out)

    def fields(p: Path) -> str:
        return subprocess.run(
            [
                tshark,
                "-n",
                "-r",
                str(p),
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.len",
                "-e",
                "tcp.len",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout

    assert fields(out) == fields(src) != ""


def test_reused_port_pair_is_not_mixed_up(tmp_path: Path) -> None:
    first = conversation(
        [("c2s", b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"), ("s2c", b"HTTP/1.1 204 No\r\n\r\n")]
    )
    second = conversation(
        [("c2s", b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n"), ("s2c", b"HTTP/1.1 204 No\r\n\r\n")],
        t0=T0 + 10,
        isn=(90_000, 70_000),
    )
    cap = tmp_path / "reuse.pcap"
    cap.write_bytes(first + second[24:])  # one pcap file header, then both connections' records
    a = analyze_file(str(cap))
    assert [x.request.target for c in a.connections for x in c.http if x.request] == ["/one", "/two"]
    two = a.connections[1]
    b, result = export_slice(cap, tmp_path / "two.pcapng", connections=[two.id])
    assert result.packets == two.tcp["packets"]["c2s"] + two.tcp["packets"]["s2c"]
    assert [x.request.target for c in b.connections for x in c.http if x.request] == ["/two"]


def test_damaged_capture_slices_up_to_the_damage(tmp_path: Path) -> None:
    full = CAPTURES / "ws-python-websockets.pcap"  # one TCP connection, nothing else
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(full.read_bytes()[:-100])
    a = analyze_file(str(cut))
    assert not a.capture.complete
    b, result = export_slice(cut, tmp_path / "cut.pcapng")
    assert result.error is not None
    assert result.packets == a.capture.packets  # every packet before the damage
    assert ws_view(b) == ws_view(a)


def test_non_tcp_packets_are_left_out(tmp_path: Path) -> None:
    tcp = conversation([("c2s", ws_frame(b"hi", mask=b"abcd"))])
    udp_ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0, b"\x0a\0\0\x01", b"\x0a\0\0\x02")
    udp = b"\x02" * 12 + b"\x08\x00" + udp_ip + struct.pack("!HHHH", 53, 53, 8, 0)
    cap = tmp_path / "mix.pcap"
    cap.write_bytes(tcp + pcap_bytes([(T0 + 5, udp)])[24:])
    a = analyze_file(str(cap))
    b, result = export_slice(cap, tmp_path / "tcp.pcapng")
    assert result.scanned == a.capture.packets and result.packets == a.capture.packets - 1
    assert b.capture.packets == result.packets and ws_view(b) == ws_view(a)
