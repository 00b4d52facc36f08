"""The `tls` object of a connection (ANALYSIS_JSON.md "TLS and HTTP/2"; docs/analysis-json.md).

Filled by the TLS layer (analyzer/protocols/tls/session.py) and the pipeline, which names the
packets. Everything here is public on the wire or derived from it: no secret, no key, not even
whether a key-log line matched beyond `decrypted`. client_random is not a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.model.facts import CertificateFacts
from analyzer.model.jsontypes import JsonObject

__all__ = ["ALERT_NAMES", "KEYLOG_HINT", "TlsAlert", "TlsInfo", "alert_name", "version_name"]

# what a connection that cannot be decrypted says (tls.no-key, the text summary)
KEYLOG_HINT = (
    "to decrypt, log the keys with SSLKEYLOGFILE=FILE (Chrome, Firefox), node --tls-keylog=FILE or"
    " Python's SSLContext.keylog_filename, then give --keylog FILE"
)

VERSION_NAMES = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}

# RFC 8446 §6, RFC 5246 §7.2, RFC 7301 §3.2
ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


def version_name(version: int) -> str:
    return VERSION_NAMES.get(version, f"0x{version:04x}")


def alert_name(description: int) -> str:
    return ALERT_NAMES.get(description, f"alert_{description}")


@dataclass(slots=True)
class TlsAlert:
    direction: str
    level: int  # 1 warning, 2 fatal (RFC 5246 §7.2; ignored in TLS 1.3)
    description: int
    encrypted: bool
    start: int  # TCP stream offsets of the record that carried it
    end: int
    frame: int = 0  # the packet with the record's last byte, named by the pipeline

    def to_dict(self) -> JsonObject:
        return {
            "direction": self.direction,
            "frame": self.frame,
            "level": self.level,
            "description": self.description,
            "name": alert_name(self.description),
            "encrypted": self.encrypted,
        }


@dataclass(slots=True)
class TlsInfo:
    version: str | None = None
    cipher_suite: str | None = None
    cipher_suite_code: int | None = None
    sni: str | None = None
    alpn: str | None = None
    alpn_offered: list[str] = field(default_factory=list)
    client_random: str | None = None
    resumed: bool = False
    decrypted: bool = False
    records: dict[str, int] = field(default_factory=lambda: {"c2s": 0, "s2c": 0})
    # additions (docs/analysis-json.md)
    versions_offered: list[str] = field(default_factory=list)
    cipher_suites_offered: list[str] = field(default_factory=list)
    key_share_groups: list[int] = field(default_factory=list)
    session_id: str | None = None
    session_ticket: bool = False  # the client offered a ticket (RFC 5077) or a PSK (RFC 8446 §4.2.11)
    hello_retry: bool = False
    early_data: str | None = None  # "offered" | "accepted"
    extended_master_secret: bool = False
    encrypt_then_mac: bool = False
    certificates: list[CertificateFacts] = field(default_factory=list)
    certificate_count: int = 0
    alerts: list[TlsAlert] = field(default_factory=list)
    key_updates: dict[str, int] = field(default_factory=lambda: {"c2s": 0, "s2c": 0})
    decrypt_failed: dict[str, int] = field(default_factory=lambda: {"c2s": 0, "s2c": 0})
    not_decrypted: str | None = None  # why, when `decrypted` is False

    def to_dict(self) -> dict[str, Any]:  # holds CertificateFacts
        return {
            "version": self.version,
            "cipher_suite": self.cipher_suite,
            "cipher_suite_code": self.cipher_suite_code,
            "sni": self.sni,
            "alpn": self.alpn,
            "alpn_offered": self.alpn_offered,
            "client_random": self.client_random,
            "resumed": self.resumed,
            "decrypted": self.decrypted,
            "records": dict(self.records),
            "versions_offered": self.versions_offered,
            "cipher_suites_offered": self.cipher_suites_offered,
            "key_share_groups": self.key_share_groups,
            "session_id": self.session_id,
            "session_ticket": self.session_ticket,
            "hello_retry": self.hello_retry,
            "early_data": self.early_data,
            "extended_master_secret": self.extended_master_secret,
            "encrypt_then_mac": self.encrypt_then_mac,
            "certificates": self.certificates,
            "certificate_count": self.certificate_count,
            "alerts": [a.to_dict() for a in self.alerts],
            "key_updates": dict(self.key_updates),
            "decrypt_failed": dict(self.decrypt_failed),
            "not_decrypted": self.not_decrypted,
        }
