"""Key schedules: TLS 1.3 traffic keys (RFC 8446 §7.1-§7.3) and the TLS 1.0-1.2 key block
(RFC 5246 §5, §6.3; RFC 4346 §5). Built from `cryptography` primitives only (HKDF-Expand, HMAC):
no hand-written hash or cipher. Nothing here keeps or prints a key."""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

__all__ = [
    "HASH_LEN",
    "hash_algorithm",
    "hkdf_expand_label",
    "key_block",
    "next_traffic_secret",
    "prf",
    "traffic_key_iv",
]

HASH_LEN = {"md5": 16, "sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    if name == "sha384":
        return hashes.SHA384()
    if name == "sha512":
        return hashes.SHA512()
    if name == "sha1":
        return hashes.SHA1()
    if name == "md5":
        return hashes.MD5()
    return hashes.SHA256()


def hkdf_expand_label(secret: bytes, label: bytes, context: bytes, length: int, hash_name: str) -> bytes:
    """RFC 8446 §7.1: HKDF-Expand(Secret, HkdfLabel, Length), HkdfLabel = uint16 length,
    opaque label<7..255> = "tls13 " + Label, opaque context<0..255>."""
    full = b"tls13 " + label
    info = struct.pack("!H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    return HKDFExpand(hash_algorithm(hash_name), length, info).derive(secret)


def traffic_key_iv(secret: bytes, key_len: int, hash_name: str, iv_len: int = 12) -> tuple[bytes, bytes]:
    """RFC 8446 §7.3: [sender]_write_key = HKDF-Expand-Label(Secret, "key", "", key_length),
    [sender]_write_iv = HKDF-Expand-Label(Secret, "iv", "", iv_length)."""
    return (
        hkdf_expand_label(secret, b"key", b"", key_len, hash_name),
        hkdf_expand_label(secret, b"iv", b"", iv_len, hash_name),
    )


def next_traffic_secret(secret: bytes, hash_name: str) -> bytes:
    """RFC 8446 §7.2: application_traffic_secret_N+1 =
    HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length)."""
    return hkdf_expand_label(secret, b"traffic upd", b"", HASH_LEN.get(hash_name, 32), hash_name)


def _hmac(key: bytes, data: bytes, hash_name: str) -> bytes:
    h = hmac.HMAC(key, hash_algorithm(hash_name))
    h.update(data)
    return h.finalize()


def _p_hash(secret: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """RFC 5246 §5: P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) + HMAC_hash(secret,
    A(2) + seed) + ..., A(0) = seed, A(i) = HMAC_hash(secret, A(i-1))."""
    out = bytearray()
    a = seed
    while len(out) < length:
        a = _hmac(secret, a, hash_name)
        out += _hmac(secret, a + seed, hash_name)
    return bytes(out[:length])


def prf(secret: bytes, label: bytes, seed: bytes, length: int, version: int, hash_name: str) -> bytes:
    """TLS 1.2 (RFC 5246 §5): P_<hash>(secret, label + seed) with the suite's PRF hash.
    TLS 1.0/1.1 (RFC 4346 §5): P_MD5(S1, label + seed) XOR P_SHA-1(S2, label + seed), S1 and S2
    the two halves of the secret (sharing a byte when its length is odd)."""
    if version >= 0x0303:
        return _p_hash(secret, label + seed, length, hash_name)
    half = (len(secret) + 1) // 2
    md5 = _p_hash(secret[:half], label + seed, length, "md5")
    sha = _p_hash(secret[len(secret) - half :], label + seed, length, "sha1")
    return bytes(x ^ y for x, y in zip(md5, sha, strict=True))


def key_block(
    master: bytes,
    server_random: bytes,
    client_random: bytes,
    version: int,
    hash_name: str,
    mac_len: int,
    key_len: int,
    iv_len: int,
) -> tuple[tuple[bytes, bytes, bytes], tuple[bytes, bytes, bytes]]:
    """RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion", server_random +
    client_random), cut into client/server MAC keys, client/server keys, client/server IVs.
    Returns ((client mac, key, iv), (server mac, key, iv))."""
    n = 2 * (mac_len + key_len + iv_len)
    block = prf(master, b"key expansion", server_random + client_random, n, version, hash_name)
    parts = []
    at = 0
    for size in (mac_len, mac_len, key_len, key_len, iv_len, iv_len):
        parts.append(block[at : at + size])
        at += size
    return (parts[0], parts[2], parts[4]), (parts[1], parts[3], parts[5])
