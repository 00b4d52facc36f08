"""Hand-built HTTP/2 captures (h2c with prior knowledge, RFC 9113 §3.3), one per h2.* anomaly code,
from frames laid out as RFC 9113 §4-§6 define them and header blocks encoded by `hpack`."""

from __future__ import annotations

import struct
from typing import Any

from hpack import Encoder

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


SETTINGS, ACK_SETTINGS = frame(4, 0, 0), frame(4, 1, 0)


def request(
    enc: Encoder, sid: int, path: str, end: bool = True, extra: list[tuple[str, str]] | None = None
) -> bytes:
    fields = [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "example.test")]
    return frame(1, 4 | (1 if end else 0), sid, enc.encode(fields + (extra or [])))


def response(enc: Encoder, sid: int, body: bytes) -> bytes:
    head = frame(1, 4, sid, enc.encode([(":status", "200"), ("content-length", str(len(body)))]))
    return head + frame(0, 1, sid, body)


def h2_pcap(client: bytes, server: bytes) -> bytes:
    from tests.crafted_captures import conversation  # it imports this module to build CRAFTED

    return conversation(
        [
            ("c", PREFACE + SETTINGS),
            ("s", SETTINGS + ACK_SETTINGS),
            ("c", ACK_SETTINGS + client),
            ("s", server),
        ]
    ).pcap()


def frame_rules() -> bytes:
    """Rule breakers among good streams: an even stream id, WINDOW_UPDATE 0, PING of 7 bytes, DATA
    over 16384 bytes, a stream cancelled, and the server's GOAWAY PROTOCOL_ERROR."""
    ce, se = Encoder(), Encoder()
    client = request(ce, 1, "/ok") + request(ce, 2, "/even") + frame(8, 0, 0, b"\0\0\0\0")
    client += frame(6, 0, 0, b"1234567") + request(ce, 3, "/big", end=False) + frame(0, 1, 3, b"x" * 16385)
    client += request(ce, 5, "/cancelled") + frame(3, 0, 5, struct.pack("!I", 8))
    server = response(se, 1, b"fine") + frame(7, 0, 0, struct.pack("!II", 5, 1) + b"bad frames")
    return h2_pcap(client, server)


def hpack_error() -> bytes:
    """A header block with index 0 (RFC 7541 §6.1), then a good request the desynchronised table
    cannot decode, answered."""
    ce, se = Encoder(), Encoder()
    client = frame(1, 5, 1, b"\x80") + request(ce, 3, "/after")
    return h2_pcap(client, response(se, 1, b"a") + response(se, 3, b"b"))


def connect_not_enabled() -> bytes:
    """RFC 8441 extended CONNECT although the server never enabled it (§9.3 #5)."""
    ce, se = Encoder(), Encoder()
    fields = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/chat"),
              (":authority", "example.test"), ("sec-websocket-version", "13")]  # fmt: skip
    client = frame(1, 4, 1, ce.encode(fields))
    server = frame(1, 4, 1, se.encode([(":status", "400")])) + frame(3, 0, 1, struct.pack("!I", 1))
    return h2_pcap(client, server)


def gap() -> bytes:
    """Client bytes lost in the middle of an HTTP/2 connection."""
    from tests.crafted_captures import ACK, Capture, Tcp

    ce, se = Encoder(), Encoder()
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    tcp.data("c", PREFACE + SETTINGS)
    tcp.data("s", SETTINGS + ACK_SETTINGS)
    tcp.data("c", ACK_SETTINGS + request(ce, 1, "/one"))
    lost = request(ce, 3, "/lost")
    tcp.send("c", request(ce, 5, "/after"), seq=tcp.nxt["c"] + len(lost))
    tcp.send("s", flags=ACK)
    tcp.data("s", response(se, 1, b"one"))
    tcp.close()
    return cap.pcap()


def limit() -> bytes:
    """A header list of more than 1 MiB (HEADERS and CONTINUATIONs, under 1 MiB of block): past
    socketscope's bound, as an HPACK bomb would be (RFC 7541 §4.1 sizes)."""
    ce = Encoder()
    block = ce.encode([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a")])
    block += ce.encode([("x-big", "v" * 16000)]) * 70
    parts = [block[i : i + 16384] for i in range(0, len(block), 16384)]
    client = frame(1, 1, 1, parts[0]) + b"".join(
        frame(9, 4 if i == len(parts) - 1 else 0, 1, p) for i, p in enumerate(parts[1:], 1)
    )
    return h2_pcap(client, b"")


def malformed() -> bytes:
    """Messages that break RFC 9113 §8.2-§8.3: an uppercase name, a connection-specific field, a
    request without :path, a response without :status, a pseudo-header field in trailers."""
    ce, se = Encoder(), Encoder()
    client = request(ce, 1, "/a", extra=[("X-Upper", "1")]) + request(
        ce, 3, "/b", extra=[("connection", "close")]
    )
    client += frame(1, 5, 5, ce.encode([(":method", "GET"), (":scheme", "http"), (":authority", "a")]))
    server = frame(1, 4, 1, se.encode([("content-type", "text/plain")])) + frame(0, 0, 1, b"x")
    server += frame(1, 5, 1, se.encode([(":status", "200")]))  # trailers with a pseudo-header field
    return h2_pcap(client, server)


def h2_crafted(make: Any) -> dict[str, Any]:
    return {
        "h2-frame-rules": make(
            frame_rules, "h2.protocol-error", "h2.frame-size", "h2.stream-reset", "h2.goaway-error"
        ),
        "h2-hpack-error": make(hpack_error, "h2.hpack-error"),
        "h2-connect-not-enabled": make(
            connect_not_enabled, "h2.connect-protocol-not-enabled", "h2.stream-reset"
        ),
        "h2-gap": make(gap, "h2.gap"),
        "h2-limit": make(limit, "h2.limit"),
        "h2-malformed": make(malformed, "h2.malformed"),
    }
