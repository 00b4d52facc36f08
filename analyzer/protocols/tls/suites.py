"""TLS cipher suites: IANA names, and how to decrypt the ones socketscope supports.

RFC 8446 §B.4 (TLS 1.3), RFC 5246 §A.5, RFC 5288 §3 (AES-GCM), RFC 5289 (ECDHE with SHA-256/384),
RFC 7905 §2 (ChaCha20-Poly1305), RFC 8422 §6 (ECDHE). RFC 5289 and RFC 7905 code points come
from implementations' tables, not from the RFC text (PROTOCOLS-TLS-H2.md §11).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GREASE", "SUITES", "CipherSuite", "suite", "suite_name"]


@dataclass(frozen=True, slots=True)
class CipherSuite:
    """How records of a suite are protected.

    `cipher`: "AES-GCM", "CHACHA20-POLY1305", "AES-CCM", "AES-CCM-8" (AEADs) or "AES-CBC";
    `key_len` the encryption key; `iv_len` the fixed IV (TLS 1.3 and ChaCha20: 12; TLS 1.2 GCM:
    the 4-byte salt; CBC: 16, used by TLS 1.0 only); `mac` the CBC suites' HMAC hash;
    `prf_hash` the hash of the key schedule or PRF (SHA-256 unless the name ends in _SHA384)."""

    code: int
    name: str
    cipher: str
    key_len: int
    iv_len: int
    mac: str | None
    prf_hash: str
    tls13: bool


def _s13(code: int, name: str, cipher: str, key_len: int, prf: str) -> CipherSuite:
    return CipherSuite(code, name, cipher, key_len, 12, None, prf, True)


def _gcm(code: int, name: str, key_len: int, prf: str) -> CipherSuite:
    return CipherSuite(code, name, "AES-GCM", key_len, 4, None, prf, False)


def _chacha(code: int, name: str) -> CipherSuite:
    return CipherSuite(code, name, "CHACHA20-POLY1305", 32, 12, None, "sha256", False)


def _cbc(code: int, name: str, key_len: int, mac: str) -> CipherSuite:
    prf = "sha384" if mac == "sha384" else "sha256"
    return CipherSuite(code, name, "AES-CBC", key_len, 16, mac, prf, False)


_DECRYPTABLE = [
    _s13(0x1301, "TLS_AES_128_GCM_SHA256", "AES-GCM", 16, "sha256"),
    _s13(0x1302, "TLS_AES_256_GCM_SHA384", "AES-GCM", 32, "sha384"),
    _s13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "CHACHA20-POLY1305", 32, "sha256"),
    _s13(0x1304, "TLS_AES_128_CCM_SHA256", "AES-CCM", 16, "sha256"),
    _s13(0x1305, "TLS_AES_128_CCM_8_SHA256", "AES-CCM-8", 16, "sha256"),
    _gcm(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
    _gcm(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
    _gcm(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
    _gcm(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
    _gcm(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
    _gcm(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
    _gcm(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
    _gcm(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
    _chacha(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    _chacha(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    _chacha(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    _cbc(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
    _cbc(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
    _cbc(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    _cbc(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    _cbc(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
    _cbc(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    _cbc(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
]

SUITES: dict[int, CipherSuite] = {s.code: s for s in _DECRYPTABLE}

# names only: suites seen in hellos that socketscope does not decrypt
_NAMES = {
    0x0000: "TLS_NULL_WITH_NULL_NULL",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x00A2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    0x00A3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
    0x00A9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC08A: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
    0xC09C: "TLS_RSA_WITH_AES_128_CCM",
    0xC09D: "TLS_RSA_WITH_AES_256_CCM",
    0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM",
    0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM",
    0xC0A0: "TLS_RSA_WITH_AES_128_CCM_8",
    0xC0A1: "TLS_RSA_WITH_AES_256_CCM_8",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAC: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAD: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
}

# RFC 8701 §2: GREASE values 0x0A0A, 0x1A1A, ..., 0xFAFA (cipher suites, groups, versions, extensions)
GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))


def suite(code: int) -> CipherSuite | None:
    """The suite's protection, or None when socketscope cannot decrypt it."""
    return SUITES.get(code)


def suite_name(code: int) -> str:
    s = SUITES.get(code)
    if s is not None:
        return s.name
    if code in GREASE:
        return f"GREASE_0x{code:04X}"
    return _NAMES.get(code, f"0x{code:04X}")
