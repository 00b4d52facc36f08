"""`socketscope live` on the loopback interface (as root): an anomaly line names its frame and
says its message, also for a Socket.IO packet that does not decode (decoded by the printer
itself, as it arrives); the summary at the end lists it with its frame and connection."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
import time

import pytest

from tests.live.conftest import free_port, live

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("root")]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
OPEN = b'0{"sid":"live-anomaly-sid","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100}'


def _frame(payload: bytes) -> bytes:
    """An unmasked text frame (the server's), payload under 126 bytes."""
    assert len(payload) < 126
    return bytes([0x81, len(payload)]) + payload


def _exchange(port: int) -> None:
    """A client opens an Engine.IO WebSocket; the server answers the handshake, sends the open
    packet and a Socket.IO CONNECT whose payload is not JSON, then closes."""
    with socket.socket() as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(1)
        srv.settimeout(10)

        def serve() -> None:
            conn, _ = srv.accept()
            conn.settimeout(10)
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096)
                key = re.search(rb"Sec-WebSocket-Key: (\S+)", head)
                assert key is not None
                accept = base64.b64encode(hashlib.sha1(key.group(1) + GUID).digest())
                conn.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                conn.sendall(_frame(OPEN))
                conn.sendall(_frame(b"40{not json"))

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as cl:
            key = base64.b64encode(b"0123456789abcdef")
            cl.sendall(
                b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: " + key + b"\r\n\r\n"
            )
            got = b""
            while b"not json" not in got and (data := cl.recv(4096)):
                got += data
        t.join(10)


def test_socketio_anomaly_line_has_its_frame_and_message() -> None:
    port = free_port()
    with live("-i", "lo", "-f", f"tcp port {port}") as proc:
        _exchange(port)
        time.sleep(0.5)  # the last packets reach the capture (as in test_live.py)
        assert proc.interrupt() == 0, proc.stderr
    text = proc.out
    line = next(line for line in text.splitlines() if "sio.bad-payload" in line)
    found = re.search(r"ANOMALY error sio\.bad-payload: (.+) \(frame (\d+)\)$", line)
    assert found is not None, line
    assert found.group(1) == "CONNECT payload is not JSON: '{not json' (S2)"
    frame = found.group(2)
    # the summary at the end: the same frame, its connection and session
    summary = text[text.index("\nAnomalies\n") :]
    row = next(r for r in summary.splitlines() if "sio.bad-payload" in r)
    assert row.split()[:5] == ["error", "sio.bad-payload", "1", frame, "#0"]
    assert "sid live-anomaly-sid" in row
