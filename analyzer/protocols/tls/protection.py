"""Record protection: authenticate and decrypt one record at a time.

TLS 1.3 AEAD (RFC 8446 §5.2-§5.4), TLS 1.2 AEAD (RFC 5246 §6.2.3.3; AES-GCM RFC 5288 §3;
ChaCha20-Poly1305 RFC 7905 §2) and TLS 1.0-1.2 AES-CBC with HMAC (RFC 5246 §6.2.3.2, RFC 4346
§6.2.3.2, encrypt-then-MAC RFC 7366 §3), with `cryptography`'s AESGCM, ChaCha20Poly1305,
AESCCM, AES-CBC and HMAC. Every record is authenticated before its plaintext is used: a record
that fails gives None, never unauthenticated bytes. The objects keep their keys in private
slots and have no repr that shows them.
"""

from __future__ import annotations

import struct
from hmac import compare_digest

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from analyzer.protocols.tls.schedule import HASH_LEN, hash_algorithm, next_traffic_secret, traffic_key_iv
from analyzer.protocols.tls.suites import CipherSuite

__all__ = ["Protection", "Tls12Aead", "Tls12Cbc", "Tls13Aead"]

AEAD = AESGCM | ChaCha20Poly1305 | AESCCM


def _aead(cipher: str, key: bytes) -> AEAD:
    if cipher == "CHACHA20-POLY1305":
        return ChaCha20Poly1305(key)
    if cipher == "AES-CCM":
        return AESCCM(key, 16)
    if cipher == "AES-CCM-8":
        return AESCCM(key, 8)
    return AESGCM(key)


def _xor_seq(iv: bytes, seq: int) -> bytes:
    """RFC 8446 §5.3 (and RFC 7905 §2): the 64-bit sequence number, left-padded with zeros to the
    IV's length, XORed with the IV."""
    padded = seq.to_bytes(len(iv), "big")
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


class Protection:
    """One direction's keys for one epoch, with its record sequence number."""

    __slots__ = ("generation", "seq", "suite", "tag_len")

    def __init__(self, suite: CipherSuite) -> None:
        self.suite = suite
        self.tag_len = 8 if suite.cipher == "AES-CCM-8" else 16
        self.seq = 0
        self.generation = 0  # TLS 1.3 KeyUpdates applied

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.suite.name}, seq={self.seq})"

    def decrypt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes] | None:
        """The record's (content type, plaintext), or None when it does not authenticate. The
        sequence number moves on either way (the record was sent)."""
        try:
            return self._open(content_type, version, fragment)
        except (InvalidTag, ValueError, OverflowError):
            return None
        finally:
            self.seq += 1

    def attempt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes] | None:
        """`decrypt` as a trial: the sequence number moves on only when the record authenticates."""
        try:
            res = self._open(content_type, version, fragment)
        except (InvalidTag, ValueError, OverflowError):
            return None
        if res is not None:
            self.seq += 1
        return res

    def _open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes] | None:
        raise NotImplementedError


class Tls13Aead(Protection):
    """RFC 8446 §5.2: AEAD-Decrypt(write_key, nonce, additional_data = the record header,
    AEADEncrypted); §5.4: the inner content type is the last non-zero byte."""

    __slots__ = ("_aead", "_iv", "_secret")

    def __init__(self, suite: CipherSuite, secret: bytes) -> None:
        super().__init__(suite)
        self._secret = secret
        self._set_keys()

    def _set_keys(self) -> None:
        key, self._iv = traffic_key_iv(self._secret, self.suite.key_len, self.suite.prf_hash)
        self._aead = _aead(self.suite.cipher, key)

    def key_update(self) -> None:
        """RFC 8446 §4.6.3, §7.2: the sender's next records use the next generation, seq 0."""
        self._secret = next_traffic_secret(self._secret, self.suite.prf_hash)
        self._set_keys()
        self.seq = 0
        self.generation += 1

    def peek_next(self) -> Tls13Aead:
        """The next generation, leaving this one as it is (to try a record after a missed KeyUpdate)."""
        nxt = Tls13Aead(self.suite, self._secret)
        nxt.key_update()
        return nxt

    def _open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes] | None:
        header = struct.pack("!BHH", content_type, version, len(fragment))
        inner = self._aead.decrypt(_xor_seq(self._iv, self.seq), fragment, header)
        text = inner.rstrip(b"\x00")
        if not text:
            return None  # RFC 8446 §5.4: all zeros is unexpected_message
        return text[-1], text[:-1]


class Tls12Aead(Protection):
    """RFC 5246 §6.2.3.3: additional_data = seq_num + type + version + length of the plaintext.
    AES-GCM (RFC 5288 §3): nonce = salt (4) + nonce_explicit (the fragment's first 8 bytes).
    ChaCha20-Poly1305 (RFC 7905 §2): nonce = IV XOR seq, no explicit part."""

    __slots__ = ("_aead", "_explicit", "_iv")

    def __init__(self, suite: CipherSuite, key: bytes, iv: bytes) -> None:
        super().__init__(suite)
        self._aead = _aead(suite.cipher, key)
        self._iv = iv
        self._explicit = 0 if suite.cipher == "CHACHA20-POLY1305" else 8

    def _open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes] | None:
        n = self._explicit
        if len(fragment) < n + self.tag_len:
            return None
        nonce = self._iv + fragment[:n] if n else _xor_seq(self._iv, self.seq)
        aad = struct.pack("!QBHH", self.seq, content_type, version, len(fragment) - n - self.tag_len)
        return content_type, self._aead.decrypt(nonce, fragment[n:], aad)


class Tls12Cbc(Protection):
    """AES-CBC with HMAC. MAC-then-encrypt (RFC 5246 §6.2.3.2): decrypt, check that the last
    padding_length + 1 bytes all equal padding_length, then HMAC(mac_key, seq + type + version +
    length + content). Encrypt-then-MAC (RFC 7366 §3): the HMAC over seq + type + version +
    length (IV + ciphertext) + IV + ciphertext is checked first. TLS 1.1/1.2 records start with
    an explicit IV (RFC 4346 §6.2.3.2); TLS 1.0 chains the IV from the previous record."""

    __slots__ = ("_etm", "_iv", "_key", "_mac_key", "_version")

    def __init__(
        self, suite: CipherSuite, key: bytes, mac_key: bytes, iv: bytes, version: int, etm: bool
    ) -> None:
        super().__init__(suite)
        self._key = key
        self._mac_key = mac_key
        self._iv = iv
        self._version = version
        self._etm = etm

    def _mac(self, content_type: int, version: int, data: bytes) -> bytes:
        h = hmac.HMAC(self._mac_key, hash_algorithm(self.suite.mac or "sha1"))
        h.update(struct.pack("!QBHH", self.seq, content_type, version, len(data)) + data)
        return h.finalize()

    def _cbc(self, iv: bytes, data: bytes) -> bytes:
        dec = Cipher(algorithms.AES(self._key), modes.CBC(iv)).decryptor()
        return dec.update(data) + dec.finalize()

    def _open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes] | None:
        mac_len = HASH_LEN[self.suite.mac or "sha1"]
        if self._etm:
            body, tag = fragment[:-mac_len], fragment[-mac_len:]
            if len(fragment) < mac_len or not compare_digest(self._mac(content_type, version, body), tag):
                return None
        else:
            body = fragment
        explicit = self._version >= 0x0302
        if len(body) % 16 or len(body) < (32 if explicit else 16):
            return None
        if explicit:
            plain = self._cbc(body[:16], body[16:])
        else:
            plain = self._cbc(self._iv, body)
            self._iv = body[-16:]  # TLS 1.0: the next record's IV is this one's last block
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-pad - 1 :] != bytes([pad]) * (pad + 1):
            return None  # RFC 5246 §6.2.3.2: bad padding is bad_record_mac
        plain = plain[: -pad - 1]
        if self._etm:
            return content_type, plain
        if len(plain) < mac_len:
            return None
        content, tag = plain[:-mac_len], plain[-mac_len:]
        if not compare_digest(self._mac(content_type, version, content), tag):
            return None
        return content_type, content
