"""`crosscheck` explains what it can (#16 item 10): a message cut by the end of the capture, which
tshark omits, and TLS connections, whose application data neither side can read."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import pytest

from analyzer.crosscheck.compare import crosscheck, print_report
from tests.crafted_captures import SERVER, Capture, Tcp

REQ = b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n"


def cut_response() -> Capture:
    """A response whose body the capture does not hold to its end (no FIN: the capture stops)."""
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    tcp.data("c", b"GET /small HTTP/1.1\r\nHost: a\r\n\r\n")
    tcp.data("s", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    tcp.data("c", REQ)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n"
    tcp.data("s", head + b"x" * 1200)
    return cap


@pytest.mark.tshark
def test_response_cut_by_the_end_of_the_capture_is_explained(tmp_path: Path, tshark: str) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(cut_response().pcap())
    report = crosscheck(str(path))
    (diff,) = report.differences
    assert (diff.what, diff.socketscope, diff.tshark) == ("HTTP response only in socketscope", "200", None)
    assert (diff.reason, diff.right, report.ok) == ("tshark-omits-cut-message", "both", True)
    assert report.connections[0].status == "explained"


def _tls_record(ctype: int, body: bytes) -> bytes:
    return struct.pack("!BHH", ctype, 0x0303, len(body)) + body  # RFC 8446 §5.1 TLSPlaintext


def _handshake(htype: int, body: bytes) -> bytes:
    return bytes([htype]) + len(body).to_bytes(3, "big") + body  # RFC 8446 §4


def tls_connection() -> Capture:
    """A TLS 1.2 handshake's first two messages (RFC 5246 §7.4.1.2, §7.4.1.3), then records of
    application data: what an encrypted WebSocket (wss://) looks like on the wire."""
    cap = Capture()
    tcp = Tcp(cap, server=(SERVER[0], 443))
    tcp.handshake()
    hello = b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
    tcp.data("c", _tls_record(22, _handshake(1, hello)))
    server_hello = b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x2f" + b"\x00"
    tcp.data("s", _tls_record(22, _handshake(2, server_hello)))
    tcp.data("c", _tls_record(23, os.urandom(120)))
    tcp.data("s", _tls_record(23, os.urandom(300)))
    tcp.close()
    return cap


@pytest.mark.tshark
def test_tls_connection_is_not_compared(tmp_path: Path, tshark: str) -> None:
    path = tmp_path / "tls.pcap"
    path.write_bytes(tls_connection().pcap())
    report = crosscheck(str(path))
    (conn,) = report.connections
    assert (conn.status, conn.differences, report.ok) == ("not compared: encrypted", [], True)
    assert conn.to_dict()["status"] == "not compared: encrypted"
    out = io.StringIO()
    print_report(report, out)
    text = out.getvalue()
    assert "NOT COMPARED: ENCRYPTED" in text and "AGREE" not in text
    assert "Result: NOT COMPARED (encrypted)" in text and "1 not compared (encrypted)" in text
