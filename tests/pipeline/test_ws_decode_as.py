"""`--decode-as PORT=websocket` on a compressed stream with heartbeats (#16 items 5 and 6),
compared with tshark 4.0 (`-d tcp.port==PORT,websocket`), which lists such a stream correctly.

The capture starts after the handshake (permessage-deflate agreed, context takeover off) and
inside a server frame; client frames are masked, compressed (RSV1) text; the client pings
every 25 s and the server answers 1 ms later.
"""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

import pytest

from analyzer import Options, analyze_file
from analyzer.model.analysis import Analysis
from tests.crafted_captures import ACK, Capture, Tcp, cframe, sframe

PORT = 8080


def deflated(text: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (comp.compress(text) + comp.flush(zlib.Z_SYNC_FLUSH))[:-4]  # RFC 7692 §7.2.1


def compressed_heartbeats(cut: bool = True) -> Capture:
    cap = Capture()
    tcp = Tcp(cap)  # no handshake in the capture
    if cut:
        first = sframe(deflated(b'42["news",' + b'"%d",' * 60 % tuple(range(60)) + b'"end"]'), rsv=0x40)
        tcp.data("s", first[37:])  # the rest of a frame that began before the capture
        tcp.send("c", flags=ACK)
    for i in range(4):
        tcp.data("c", cframe(deflated(b'42["msg","hello %d"]' % i), rsv=0x40), dt=0.2)
        tcp.data("s", sframe(deflated(b'42["msg","ack %d"]' % i), rsv=0x40), dt=0.002)
        tcp.data("c", cframe(b"", 9, mask=bytes([i, 7, 7, 7])), dt=25.0)  # Ping
        tcp.data("s", sframe(b"", 10), dt=0.001)  # Pong, 1 ms later
    return cap


def analyze(tmp_path: Path, cut: bool = True) -> tuple[Path, Analysis]:
    path = tmp_path / "ws.pcap"
    path.write_bytes(compressed_heartbeats(cut).pcap())
    return path, analyze_file(str(path), Options(decode_as={PORT: "websocket"}))


def test_compressed_stream_without_handshake(tmp_path: Path) -> None:
    _, analysis = analyze(tmp_path)
    (conn,) = analysis.connections
    ws = conn.websocket
    assert ws is not None
    texts = [(m.direction.value, m.compressed, m.data.decode()) for m in ws.messages]
    assert texts[:2] == [("c2s", True, '42["msg","hello 0"]'), ("s2c", True, '42["msg","ack 0"]')]
    assert len(texts) == 8
    codes = sorted({a.code for a in analysis.anomalies})
    assert codes == ["ws.deflate-assumed", "ws.resync"]  # no invented frame, no false Ping loss


def test_pings_pair_by_time_and_frames_stay_in_capture_order(tmp_path: Path) -> None:
    _, analysis = analyze(tmp_path)
    (conn,) = analysis.connections
    ws = conn.websocket
    assert ws is not None
    frames = [f.frame for f in ws.frames]
    assert frames == sorted(frames)
    pings = ws.conversation["pings"]
    assert len(pings) == 4 and all(p["pong_frame"] == p["ping_frame"] + 1 for p in pings)
    assert all(0.5 < p["rtt_ms"] < 1.5 for p in pings)


@pytest.mark.tshark
def test_frames_as_tshark(tmp_path: Path, tshark: str) -> None:
    """From a frame boundary (tshark, too, gets lost in the rest of a cut frame)."""
    path, analysis = analyze(tmp_path, cut=False)
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-d", f"tcp.port=={PORT},websocket", "-Y", "websocket",
         "-T", "fields", "-e", "frame.number", "-e", "websocket.opcode", "-e", "websocket.rsv"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = []
    for line in out.split("\n")[:-1]:
        frame, ops, rsvs = line.split("\t")
        pairs = zip(ops.split(","), rsvs.split(","), strict=True)
        theirs += [(int(frame), int(op), int(rsv, 16)) for op, rsv in pairs]
    (conn,) = analysis.connections
    assert conn.websocket is not None
    ours = [(f.frame, f.opcode, f.rsv1 << 2) for f in conn.websocket.frames]
    assert ours == theirs and len(ours) == 16
    assert sorted({a.code for a in analysis.anomalies}) == ["ws.deflate-assumed"]
