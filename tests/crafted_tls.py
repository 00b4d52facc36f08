"""Small TLS captures built from RFC 8448 §3's records (real TLS 1.3 bytes) for the tls.* codes,
and a WebSocket conversation sealed here under that connection's application keys, so that the
pipeline's offsets through the record layer are checked on known bytes.

Added to tests/crafted_captures.CRAFTED (tests/model/test_code_coverage.py runs them)."""

from __future__ import annotations

import struct
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from analyzer.pipeline import Options
from analyzer.protocols.tls import parse_keylog
from analyzer.protocols.tls.schedule import traffic_key_iv
from tests.crafted_captures import CLIENT, Capture, Tcp, cframe, sframe, upgrade_request, upgrade_response
from tests.protocols.tls import rfc8448 as v

SERVER443 = (bytes([10, 0, 0, 2]), 443)
KEYS = v.KEYLOG


def seal(secret: bytes, seq: int, inner: bytes, inner_type: int = 23) -> bytes:
    """A TLS 1.3 record (RFC 8446 §5.2) under the traffic secret, AES-128-GCM: the test's own
    encryption, to make records with known plaintext on RFC 8448's connection."""
    key, iv = traffic_key_iv(secret, 16, "sha256")
    plain = inner + bytes([inner_type])
    header = b"\x17\x03\x03" + struct.pack("!H", len(plain) + 16)
    nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big"), strict=True))
    return header + AESGCM(key).encrypt(nonce, plain, header)


def tls_pcap(chunks: list[tuple[str, bytes]], close: bool = True, mss: int = 1400) -> bytes:
    cap = Capture()
    tcp = Tcp(cap, CLIENT, SERVER443)
    tcp.handshake()
    for side, data in chunks:
        tcp.data(side, data, mss=mss)
    if close:
        tcp.close()
    return cap.pcap()


HANDSHAKE = [
    ("c", v.CLIENT_HELLO_RECORD),
    ("s", v.SERVER_HELLO_RECORD + v.SERVER_HANDSHAKE_RECORD),
    ("c", v.CLIENT_FINISHED_RECORD),
    ("s", v.SERVER_TICKET_RECORD),
]


def websocket_over_tls() -> bytes:
    """The RFC 8448 handshake, then an HTTP upgrade and WebSocket frames inside TLS records:
    a message split over two records, and two frames in one record; small segments (mss 100), so
    records span packets."""
    c, s = {"seq": 0}, {"seq": 1}  # the server's ticket was its application record 0

    def client(data: bytes) -> bytes:
        c["seq"] += 1
        return seal(v.C_AP, c["seq"] - 1, data)

    def server(data: bytes) -> bytes:
        s["seq"] += 1
        return seal(v.S_AP, s["seq"] - 1, data)

    hello = cframe(b"hello over TLS")
    big = sframe(b"B" * 300, 2)
    return tls_pcap(
        [
            *HANDSHAKE,
            ("c", client(upgrade_request("/tls"))),
            ("s", server(upgrade_response())),
            ("c", client(hello[:9]) + client(hello[9:])),
            ("s", server(sframe(b"one") + sframe(b"two")) + server(big)),
            ("c", client(cframe(b"\x03\xe8", 8))),
            ("s", server(sframe(b"\x03\xe8", 8))),
            ("s", seal(v.S_AP, s["seq"], b"\x01\x00", 21)),  # close_notify
        ],
        mss=100,
    )


def _unknown_suite_hello() -> bytes:
    sh = bytearray(v.SERVER_HELLO_RECORD)
    at = 5 + 4 + 2 + 32 + 1
    sh[at : at + 2] = b"\x00\x0a"  # TLS_RSA_WITH_3DES_EDE_CBC_SHA: not decrypted
    sh[sh.index(b"\x00\x2b\x00\x02\x03\x04") :] = b"\x00\x2b\x00\x02\x03\x03"
    return bytes(sh)


def _bad_client_hello() -> bytes:
    rec = bytearray(v.CLIENT_HELLO_RECORD)
    rec[5 + 4 + 2 + 32] = 200  # a session id longer than the message
    return bytes(rec)


def _wrong_keys() -> str:
    text = v.KEYLOG
    for n, secret in enumerate((v.C_HS, v.S_HS, v.C_AP, v.S_AP)):
        text = text.replace(secret.hex(), (bytes([n + 1]) * 32).hex())
    return text


def _opts(keylog: str | None) -> Options:
    return Options(keylog=parse_keylog(keylog, "crafted.keys") if keylog is not None else None)


def tls_crafted(make: Any) -> dict[str, Any]:
    """name -> Crafted, made by `make(build, *codes, options=...)` (crafted_captures._c)."""
    overflow = b"\x17\x03\x03" + struct.pack("!H", 17000) + bytes(17000)
    return {
        "tls-websocket": make(websocket_over_tls, options=_opts(KEYS)),
        "tls-no-key": make(lambda: tls_pcap([*HANDSHAKE, ("c", v.CLIENT_APP_RECORD)]), "tls.no-key"),
        "tls-midstream": make(
            lambda: tls_pcap([("c", v.CLIENT_APP_RECORD), ("s", v.SERVER_APP_RECORD)]),
            "tls.no-key",
            options=_opts(KEYS),
        ),
        "tls-wrong-key": make(
            lambda: tls_pcap([*HANDSHAKE, ("c", v.CLIENT_APP_RECORD)]),
            "tls.decrypt-failed",
            options=_opts(_wrong_keys()),
        ),
        "tls-keylog-garbage": make(
            lambda: tls_pcap(HANDSHAKE),
            "tls.keylog-bad-line",
            options=_opts("this is not a key log\n" + KEYS + "CLIENT_RANDOM 00 11\n"),
        ),
        "tls-record-overflow": make(
            lambda: tls_pcap([*HANDSHAKE, ("c", overflow[:9000])]),
            "tls.record-overflow",
            "tls.truncated-record",
            options=_opts(KEYS),
        ),
        "tls-unknown-suite": make(
            lambda: tls_pcap([("c", v.CLIENT_HELLO_RECORD), ("s", _unknown_suite_hello())]),
            "tls.unknown-cipher-suite",
            options=_opts(KEYS),
        ),
        "tls-alert": make(
            lambda: tls_pcap([("c", v.CLIENT_HELLO_RECORD), ("s", b"\x15\x03\x03\x00\x02\x02\x28")]),
            "tls.alert",
        ),
        "tls-bad-record": make(
            lambda: tls_pcap([*HANDSHAKE, ("c", b"GET / HTTP/1.1\r\n\r\n")]),
            "tls.bad-record",
            options=_opts(KEYS),
        ),
        "tls-bad-handshake": make(lambda: tls_pcap([("c", _bad_client_hello())]), "tls.bad-handshake"),
    }
