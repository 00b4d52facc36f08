"""Anomaly codes of the TLS layer (PROTOCOLS-TLS-H2.md checklist T1-T16, KL1-KL9).

Offsets are TCP stream offsets of the record that breaks the rule (its first byte); the
pipeline names the packets that carried the record. Messages never hold a secret: key-log
lines are named by their number, never quoted.
"""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "TLS_ALERT",
    "TLS_BAD_HANDSHAKE",
    "TLS_BAD_RECORD",
    "TLS_DECRYPT_FAILED",
    "TLS_KEYLOG_BAD_LINE",
    "TLS_NO_KEY",
    "TLS_RECORD_OVERFLOW",
    "TLS_TRUNCATED_RECORD",
    "TLS_UNKNOWN_CIPHER_SUITE",
]

_L = Layer.TLS

TLS_NO_KEY = register(
    "tls.no-key",
    Severity.NOTE,
    _L,
    "a TLS connection that cannot be decrypted: no key-log secret for its client_random (or no"
    " ClientHello in the capture); give one with --keylog (SSLKEYLOGFILE, node --tls-keylog,"
    " SSLContext.keylog_filename) or a pcapng Decryption Secrets Block",
    "draft-ietf-tls-keylogfile §2; RFC 8446 §7.1; RFC 5246 §6.3 (T15)",
)
TLS_DECRYPT_FAILED = register(
    "tls.decrypt-failed",
    Severity.WARN,
    _L,
    "a protected record does not authenticate with the logged keys (AEAD tag, CBC padding or MAC:"
    " bad_record_mac, or a wrong key); its bytes are not passed on",
    "RFC 8446 §5.2, §5.4; RFC 5246 §6.2.3.2, §6.2.3.3; RFC 7366 §3 (T5)",
)
TLS_RECORD_OVERFLOW = register(
    "tls.record-overflow",
    Severity.ERROR,
    _L,
    "a record longer than the protocol allows: plaintext over 2^14, TLS 1.3 ciphertext over"
    " 2^14 + 256, TLS 1.2 ciphertext over 2^14 + 2048 bytes",
    "RFC 8446 §5.1, §5.2; RFC 5246 §6.2.1, §6.2.3 (T1)",
)
TLS_UNKNOWN_CIPHER_SUITE = register(
    "tls.unknown-cipher-suite",
    Severity.WARN,
    _L,
    "the server chose a cipher suite socketscope cannot decrypt (not AES-GCM, ChaCha20-Poly1305,"
    " AES-CCM in TLS 1.3, or AES-CBC with HMAC-SHA1/SHA256/SHA384); the records are counted only",
    "RFC 8446 §B.4; RFC 5246 §A.5; RFC 5288 §3; RFC 7905 §2",
)
TLS_ALERT = register(
    "tls.alert",
    Severity.WARN,
    _L,
    "a TLS alert other than close_notify (in clear, or decrypted): its level and description",
    "RFC 8446 §6; RFC 5246 §7.2",
)
TLS_KEYLOG_BAD_LINE = register(
    "tls.keylog-bad-line",
    Severity.WARN,
    _L,
    "a key-log line that does not parse (not LABEL CLIENT_RANDOM SECRET, bad hex or size); it is"
    " named by its line number and skipped, the rest of the file is used",
    "draft-ietf-tls-keylogfile §2 (KL2-KL4)",
)
TLS_TRUNCATED_RECORD = register(
    "tls.truncated-record",
    Severity.WARN,
    _L,
    "a TLS record cut short: the TCP stream ended, or bytes were never captured, before its last"
    " byte; it is not decrypted",
    "RFC 8446 §5.1; RFC 5246 §6.2.1",
)
TLS_BAD_RECORD = register(
    "tls.bad-record",
    Severity.ERROR,
    _L,
    "a record header with an unknown content type or a version that is not 3.x: the record"
    " framing is lost and the rest of that direction is not read as TLS",
    "RFC 8446 §5, §5.1; RFC 5246 §6.2.1 (T2)",
)
TLS_BAD_HANDSHAKE = register(
    "tls.bad-handshake",
    Severity.ERROR,
    _L,
    "a handshake message whose lengths do not add up (ClientHello, ServerHello, extensions,"
    " Certificate), or one longer than socketscope's bound; it is skipped",
    "RFC 8446 §4, §4.2; RFC 5246 §7.4",
)
