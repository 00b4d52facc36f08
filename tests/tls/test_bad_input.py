"""Bad input on real TLS traffic: a wrong key, a key log with garbage lines, a capture that starts
after the handshake, a record cut short. (A record over the limit, an unknown cipher suite, a bad
record header and a malformed hello are crafted: tests/crafted_tls.py.)"""

from __future__ import annotations

import struct
from pathlib import Path

from analyzer import analyze_file
from analyzer.capture.pcapfile import open_capture
from analyzer.pipeline import Options
from analyzer.protocols.tls import parse_keylog
from tests.tls.common import analysis, capture, expected, keylog_path, names

WS = [n for n in names() if expected(n).get("websocket")]


def _codes(path: Path, options: Options) -> list[str]:
    return [a.code for a in analyze_file(str(path), options).anomalies]


def _write(path: Path, packets: list[tuple[float, bytes, int]], linktype: int) -> Path:
    """A pcap whose packets may be cut (caplen < origlen)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for ts, data, orig in packets:
        sec = int(ts)
        out.append(struct.pack("<IIII", sec, round((ts - sec) * 1e6), len(data), orig) + data)
    path.write_bytes(b"".join(out))
    return path


def _packets(name: str) -> tuple[list[tuple[float, bytes, int]], int]:
    reader = open_capture(str(capture(name)))
    pkts = [(p.ts, p.data, len(p.data)) for p in reader]
    return pkts, reader.link_types[0]


def test_wrong_key() -> None:
    for name in WS:
        text = keylog_path(name).read_text()
        lines = [
            line[:-1] + ("0" if line[-1] != "0" else "1") if line and not line.startswith("#") else line
            for line in text.splitlines()
        ]
        a = analyze_file(str(capture(name)), Options(keylog=parse_keylog("\n".join(lines), "wrong.keys")))
        (conn,) = a.connections
        assert conn.app_protocol == "tls" and conn.websocket is None and conn.http == []
        assert conn.tls is not None and not conn.tls.decrypted
        failed = [x for x in a.anomalies if x.code == "tls.decrypt-failed"]
        assert failed and all(x.frames for x in failed[:-1]), name
        assert sum(conn.tls.decrypt_failed.values()) >= 4


def test_garbage_lines_are_reported_and_the_rest_used() -> None:
    name = WS[0]
    good = keylog_path(name).read_text().splitlines()
    text = "\n".join(["not a key log line", *good[:2], "CLIENT_RANDOM zz 00", *good[2:], "\x00\xff junk"])
    a = analyze_file(str(capture(name)), Options(keylog=parse_keylog(text, "mixed.keys")))
    bad = [x.message for x in a.anomalies if x.code == "tls.keylog-bad-line"]
    assert bad[0].startswith("key log mixed.keys, line 1: ") and "line 4: " in bad[1] and len(bad) == 3
    assert a.connections[0].app_protocol == "websocket"


def test_capture_starting_after_the_handshake(tmp_path: Path) -> None:
    name = WS[0]
    ws = analysis(name).connections[0].websocket
    assert ws is not None and ws.handshake is not None
    pkts, linktype = _packets(name)
    late = _write(tmp_path / "late.pcap", pkts[ws.handshake["response_frame"] :], linktype)
    a = analyze_file(str(late), Options(keylog=parse_keylog(keylog_path(name).read_bytes())))
    (conn,) = a.connections
    assert conn.app_protocol == "tls" and conn.tls is not None and not conn.tls.decrypted
    (note,) = [x for x in a.anomalies if x.code.startswith("tls.")]
    assert note.code == "tls.no-key" and "after the TLS handshake" in note.message


def test_record_cut_short(tmp_path: Path) -> None:
    """The packet with the 40 KiB message is cut by the snapshot length: its records are reported
    truncated, the ones before and after it still decrypt."""
    name = WS[0]
    pkts, linktype = _packets(name)
    big = max(range(len(pkts)), key=lambda i: len(pkts[i][1]))
    ts, data, orig = pkts[big]
    pkts[big] = (ts, data[:3000], orig)
    cut = _write(tmp_path / "cut.pcap", pkts, linktype)
    a = analyze_file(str(cut), Options(keylog=parse_keylog(keylog_path(name).read_bytes())))
    codes = [x.code for x in a.anomalies]
    assert "tls.truncated-record" in codes and "tcp.gap" in codes
    msgs = [m.data for m in a.connections[0].websocket.messages]  # type: ignore[union-attr]
    assert b"hello over TLS" in msgs


def test_lost_packet_between_records(tmp_path: Path) -> None:
    """A client packet never captured, between records: the framing is found again after the
    gap, the sequence number is worked out, and every later message still decrypts."""
    for name in WS:
        pkts, linktype = _packets(name)
        client_port = analysis(name).connections[0].client["port"]
        msgs = analysis(name).connections[0].websocket.messages  # type: ignore[union-attr]
        second = [m for m in msgs if m.direction.value == "c2s"][1]  # its packet goes missing
        (frame,) = second.frames
        assert struct.unpack("!H", pkts[frame - 1][1][34:36])[0] == client_port
        del pkts[frame - 1]
        lost = _write(tmp_path / f"{name}.pcap", pkts, linktype)
        a = analyze_file(str(lost), Options(keylog=parse_keylog(keylog_path(name).read_bytes())))
        codes = [x.code for x in a.anomalies]
        assert "tcp.gap" in codes and "tls.decrypt-failed" not in codes, (name, codes)
        got = [m.data for m in a.connections[0].websocket.messages]  # type: ignore[union-attr]
        assert second.data not in got and len(got) == len(msgs) - 1
