"""One TLS connection through the sans-IO layer: RFC 8448 §3 end to end, the handshake read in
clear, key changes, and what bad input becomes (RFC 8446 §4-§7)."""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from analyzer.model.common import Direction
from analyzer.protocols.tls import TlsConnection, TlsData, TlsEvent, TlsNote, parse_keylog
from analyzer.protocols.tls.handshake import ClientHello, ServerHello, parse_message
from analyzer.protocols.tls.schedule import next_traffic_secret, traffic_key_iv
from tests.protocols.tls import rfc8448 as v

C2S, S2C = Direction.C2S, Direction.S2C


def run(conn: TlsConnection, steps: list[tuple[Direction, bytes]], piece: int = 0) -> list[TlsEvent]:
    out: list[TlsEvent] = []
    for d, data in steps:
        size = piece or len(data) or 1
        for i in range(0, len(data), size):
            out += conn.feed(d, data[i : i + size])
    return out + conn.finish()


RFC_STEPS = [
    (C2S, v.CLIENT_HELLO_RECORD),
    (S2C, v.SERVER_HELLO_RECORD + v.SERVER_HANDSHAKE_RECORD),
    (C2S, v.CLIENT_FINISHED_RECORD + v.CLIENT_APP_RECORD),
    (S2C, v.SERVER_TICKET_RECORD + v.SERVER_APP_RECORD + v.SERVER_ALERT_RECORD),
    (C2S, v.CLIENT_ALERT_RECORD),
]


def codes(events: list[TlsEvent]) -> list[str]:
    return [e.code for e in events if isinstance(e, TlsNote)]


def test_rfc8448_connection() -> None:
    for piece in (0, 1, 13):
        conn = TlsConnection(parse_keylog(v.KEYLOG))
        events = run(conn, RFC_STEPS, piece)
        data = [e for e in events if isinstance(e, TlsData)]
        assert [(e.direction, e.data, e.start, e.end) for e in data] == [
            (C2S, v.APP_DATA, 259, 331),
            (S2C, v.APP_DATA, 1001, 1073),
        ]
        assert codes(events) == []
        info = conn.info
        assert (info.version, info.cipher_suite, info.cipher_suite_code) == (
            "TLS 1.3",
            "TLS_AES_128_GCM_SHA256",
            0x1301,
        )
        assert info.sni == "server" and info.decrypted and info.records == {"c2s": 4, "s2c": 5}
        assert info.client_random == v.CLIENT_RANDOM.hex() and not info.resumed
        assert info.certificates[0]["subject"] == "CN=rsa" and info.certificate_count == 1
        assert [a.name if hasattr(a, "name") else a.description for a in info.alerts] == [0, 0]


def test_handshake_parse() -> None:
    ch = parse_message(1, v.CLIENT_HELLO_RECORD[9:], False)
    assert isinstance(ch, ClientHello)
    assert ch.random == v.CLIENT_RANDOM and ch.cipher_suites == [0x1301, 0x1303, 0x1302]
    assert ch.sni == "server" and ch.supported_versions == [0x0304] and ch.key_share_groups == [0x001D]
    assert ch.session_ticket == b"" and not ch.psk and not ch.early_data
    sh = parse_message(2, v.SERVER_HELLO_RECORD[9:], False)
    assert isinstance(sh, ServerHello)
    assert sh.version == 0x0304 and sh.cipher_suite == 0x1301 and not sh.hrr and sh.key_share_group == 0x001D
    assert str(parse_message(1, v.CLIENT_HELLO_RECORD[9:100], False)) == "145 bytes wanted at offset 47 of 91"


def test_no_key_log_says_so_once() -> None:
    conn = TlsConnection(None)
    events = run(conn, RFC_STEPS)
    assert codes(events) == ["tls.no-key"]
    note = next(e for e in events if isinstance(e, TlsNote))
    assert "SSLKEYLOGFILE" in note.message and "--keylog" in note.message and "server" in note.message
    assert not conn.info.decrypted and conn.info.not_decrypted == "no key log"
    assert not any(isinstance(e, TlsData) for e in events)
    other = TlsConnection(parse_keylog(f"CLIENT_RANDOM {'00' * 32} {'11' * 48}\n"))
    assert codes(run(other, RFC_STEPS)) == ["tls.no-key"]
    assert other.info.not_decrypted == f"no secret in the key log for client_random {v.CLIENT_RANDOM.hex()}"


def test_wrong_key_fails_every_record_and_gives_no_plaintext() -> None:
    wrong = v.KEYLOG
    for n, secret in enumerate((v.C_HS, v.S_HS, v.C_AP, v.S_AP)):
        wrong = wrong.replace(secret.hex(), (bytes([n + 1]) * 32).hex())
    conn = TlsConnection(parse_keylog(wrong))
    events = run(conn, RFC_STEPS)
    assert codes(events) == ["tls.decrypt-failed"] * 7
    data = [e for e in events if isinstance(e, TlsData)]
    assert data == []  # never garbage plaintext


def test_capture_starting_after_the_handshake() -> None:
    conn = TlsConnection(parse_keylog(v.KEYLOG))
    events = run(conn, [(C2S, v.CLIENT_APP_RECORD), (S2C, v.SERVER_APP_RECORD)])
    assert codes(events) == ["tls.no-key"]
    assert "after the TLS handshake" in (conn.info.not_decrypted or "")


def test_unknown_cipher_suite() -> None:
    sh = bytearray(v.SERVER_HELLO_RECORD)
    at = 5 + 4 + 2 + 32 + 1
    sh[at : at + 2] = b"\xc0\xac"  # TLS_ECDHE_ECDSA_WITH_AES_128_CCM: not decrypted
    sh[sh.index(b"\x00\x2b\x00\x02\x03\x04") :] = b"\x00\x2b\x00\x02\x03\x03"  # and TLS 1.2
    conn = TlsConnection(parse_keylog(v.KEYLOG))
    events = run(conn, [(C2S, v.CLIENT_HELLO_RECORD), (S2C, bytes(sh) + v.SERVER_HANDSHAKE_RECORD)])
    assert codes(events) == ["tls.unknown-cipher-suite"]
    assert conn.info.cipher_suite == "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"


def test_record_over_the_limit_and_truncated() -> None:
    conn = TlsConnection(parse_keylog(v.KEYLOG))
    big = b"\x17\x03\x03" + struct.pack("!H", 16641) + bytes(16641)
    run(conn, RFC_STEPS[:2])
    events = conn.feed(C2S, big[:-1] + b"")
    assert codes(events) == ["tls.record-overflow"]
    assert codes(conn.eof(C2S)) == ["tls.truncated-record"]


def _seal(secret: bytes, seq: int, inner: bytes, inner_type: int) -> bytes:
    key, iv = traffic_key_iv(secret, 16, "sha256")
    plain = inner + bytes([inner_type])
    header = b"\x17\x03\x03" + struct.pack("!H", len(plain) + 16)
    nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big"), strict=True))
    return header + AESGCM(key).encrypt(nonce, plain, header)


def test_key_update() -> None:
    """RFC 8446 §4.6.3: after the client's KeyUpdate its records use the next generation."""
    update = _seal(v.C_AP, 1, bytes.fromhex("1800000100"), 22)
    after = _seal(next_traffic_secret(v.C_AP, "sha256"), 0, b"after the update", 23)
    conn = TlsConnection(parse_keylog(v.KEYLOG))
    steps = [*RFC_STEPS[:2], (C2S, v.CLIENT_FINISHED_RECORD + v.CLIENT_APP_RECORD + update + after)]
    events = run(conn, steps)
    assert [e.data for e in events if isinstance(e, TlsData)] == [v.APP_DATA, b"after the update"]
    assert conn.info.key_updates == {"c2s": 1, "s2c": 0} and codes(events) == []
    # a KeyUpdate that was never captured: the next generation is still found
    conn = TlsConnection(parse_keylog(v.KEYLOG))
    steps = [*RFC_STEPS[:2], (C2S, v.CLIENT_FINISHED_RECORD + v.CLIENT_APP_RECORD + after)]
    assert [e.data for e in run(conn, steps) if isinstance(e, TlsData)] == [v.APP_DATA, b"after the update"]


def test_alert_in_clear() -> None:
    conn = TlsConnection(None)
    events = run(conn, [(C2S, v.CLIENT_HELLO_RECORD), (S2C, b"\x15\x03\x03\x00\x02\x02\x28")])
    assert codes(events) == ["tls.alert"]
    assert "fatal alert handshake_failure (40) from the server" in events[0].message  # type: ignore[union-attr]
