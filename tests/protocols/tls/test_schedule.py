"""Key schedules and record protection against published vectors: RFC 8448 §3 (TLS 1.3), the TLS
working group's PRF vectors and an OpenSSL 3.0 AES-GCM record (PROTOCOLS-TLS-H2.md §7)."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from analyzer.protocols.tls.protection import Tls12Aead, Tls12Cbc, Tls13Aead
from analyzer.protocols.tls.schedule import (
    hash_algorithm,
    hkdf_expand_label,
    key_block,
    next_traffic_secret,
    prf,
    traffic_key_iv,
)
from analyzer.protocols.tls.suites import SUITES, suite_name
from tests.protocols.tls import rfc8448 as v

AES128_GCM_SHA256 = SUITES[0x1301]


@pytest.mark.parametrize(
    ("secret", "key", "iv"),
    [
        (v.S_HS, "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"),
        (v.C_HS, "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"),
        (v.S_AP, "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984"),
        (v.C_AP, "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9"),
    ],
    ids=["server-hs", "client-hs", "server-ap", "client-ap"],
)
def test_rfc8448_traffic_keys(secret: bytes, key: str, iv: str) -> None:
    assert traffic_key_iv(secret, 16, "sha256") == (bytes.fromhex(key), bytes.fromhex(iv))


def test_hkdf_label_layout() -> None:
    # RFC 8448 §3 "tls13 derived" from the early secret, whose info block the RFC prints
    early = bytes.fromhex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
    empty_hash = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    derived = hkdf_expand_label(early, b"derived", empty_hash, 32, "sha256")
    assert derived.hex() == "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"


def test_key_update_generation() -> None:
    """RFC 8446 §7.2 applied to RFC 8448's client application secret (PROTOCOLS-TLS-H2.md §7.1)."""
    nxt = next_traffic_secret(v.C_AP, "sha256")
    assert nxt.hex() == "fcdfcc72725aaee48bf64e4fd8b749cdbdbab39d90da0b26e2245ca6ea167207"
    key, iv = traffic_key_iv(nxt, 16, "sha256")
    assert key.hex() == "3879d82f5f14056e623f2ce5bfc66fce"
    assert iv.hex() == "5dfb2c5938c3379b6cc5d1f2"


def _open(prot: Tls13Aead, record: bytes) -> tuple[int, bytes] | None:
    return prot.decrypt(record[0], int.from_bytes(record[1:3], "big"), record[5:])


def test_rfc8448_records_decrypt() -> None:
    client_hs = Tls13Aead(AES128_GCM_SHA256, v.C_HS)
    res = _open(client_hs, v.CLIENT_FINISHED_RECORD)
    assert res is not None and res[0] == 22 and res[1][:4] == bytes.fromhex("14000020")

    server_hs = Tls13Aead(AES128_GCM_SHA256, v.S_HS)
    res = _open(server_hs, v.SERVER_HANDSHAKE_RECORD)
    assert res is not None and res[0] == 22 and res[1][:4] == bytes.fromhex("08000024") and len(res[1]) == 657

    client_ap = Tls13Aead(AES128_GCM_SHA256, v.C_AP)
    assert _open(client_ap, v.CLIENT_APP_RECORD) == (23, v.APP_DATA)
    assert _open(client_ap, v.CLIENT_ALERT_RECORD) == (21, b"\x01\x00")

    server_ap = Tls13Aead(AES128_GCM_SHA256, v.S_AP)
    ticket = _open(server_ap, v.SERVER_TICKET_RECORD)
    assert ticket is not None and ticket[0] == 22 and ticket[1][0] == 4
    assert _open(server_ap, v.SERVER_APP_RECORD) == (23, v.APP_DATA)  # sequence number 1
    assert _open(server_ap, v.SERVER_ALERT_RECORD) == (21, b"\x01\x00")


def test_wrong_key_or_sequence_never_gives_plaintext() -> None:
    assert _open(Tls13Aead(AES128_GCM_SHA256, v.S_AP), v.CLIENT_APP_RECORD) is None
    server_ap = Tls13Aead(AES128_GCM_SHA256, v.S_AP)
    assert _open(server_ap, v.SERVER_APP_RECORD) is None  # sequence number 0, sent as 1
    tampered = bytearray(v.CLIENT_APP_RECORD)
    tampered[20] ^= 1
    assert _open(Tls13Aead(AES128_GCM_SHA256, v.C_AP), bytes(tampered)) is None


# the TLS working group's PRF test vectors (PROTOCOLS-TLS-H2.md §7.2)
PRF_SHA256 = (
    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa0"
    "22f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66"
)
PRF_SHA384 = (
    "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534"
    "cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd"
    "4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f"
)


def test_tls12_prf_vectors() -> None:
    out = prf(
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
        0x0303,
        "sha256",
    )
    assert out.hex() == PRF_SHA256
    out = prf(
        bytes.fromhex("b80b733d6ceefcdc71566ea48e5567df"),
        b"test label",
        bytes.fromhex("cd665cf6a8447dd6ff8b27555edb7465"),
        148,
        0x0303,
        "sha384",
    )
    assert out.hex() == PRF_SHA384


def test_tls12_gcm_openssl_record() -> None:
    """An AES-128-GCM record of an OpenSSL 3.0.19 session (suite c02f; PROTOCOLS-TLS-H2.md §7.2)."""
    master = bytes.fromhex(
        "00553ad9e458f4d1bee46839dbc5b7e6fe060623c139b3c091c10f4ba10c1dfbf8a47fba4f9821fffd272272e0f2fb86"
    )
    client_random = bytes.fromhex("67e13686737cc81a11d351d12b53a8be4b60900a478b58ac4abbf4e44e549497")
    server_random = bytes.fromhex("b3d0fe2af792f646ccc33982b049dfc0c736a3d66fe0b0a297f89a9c6ce817c5")
    cs = SUITES[0xC02F]
    client, server = key_block(master, server_random, client_random, 0x0303, "sha256", 0, 16, 4)
    assert client[1].hex() == "9589f68b70348c3d1f7bfb26d02d82bf" and client[2].hex() == "c878e656"
    assert server[1].hex() == "0635fe6d2cacca6510da5ea1b05f1c4e" and server[2].hex() == "de6515f5"
    record = bytes.fromhex(
        "1703030033a815a21e04f5c515a13ac994482578eba71c9b2c51378505440"
        "4ecf6bc716bc3dbbbe180e280005cf81669bf88bea7d70feaa2"
    )
    prot = Tls12Aead(cs, client[1], client[2])
    prot.seq = 1  # Finished was sequence number 0
    assert prot.decrypt(23, 0x0303, record[5:]) == (23, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    prot.seq = 1
    assert prot.decrypt(23, 0x0303, record[5:-1] + bytes([record[-1] ^ 1])) is None


def _mac(key: bytes, hash_name: str, data: bytes) -> bytes:
    h = chmac.HMAC(key, hash_algorithm(hash_name))
    h.update(data)
    return h.finalize()


def _cbc_record(key: bytes, mac_key: bytes, mac: str, content: bytes, seq: int, etm: bool) -> bytes:
    """A TLS 1.2 CBC record made here (the test's own encryption, RFC 5246 §6.2.3.2 / RFC 7366 §3)."""
    iv = bytes(range(16))
    header = struct.pack("!QBH", seq, 23, 0x0303)
    body = (
        content if etm else content + _mac(mac_key, mac, header + struct.pack("!H", len(content)) + content)
    )
    pad = 15 - len(body) % 16
    body += bytes([pad]) * (pad + 1)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    fragment = iv + enc.update(body) + enc.finalize()
    if etm:
        fragment += _mac(mac_key, mac, header + struct.pack("!H", len(fragment)) + fragment)
    return fragment


@pytest.mark.parametrize("code", [0xC013, 0xC027, 0xC028])
@pytest.mark.parametrize("etm", [False, True], ids=["mac-then-encrypt", "encrypt-then-mac"])
def test_tls12_cbc(code: int, etm: bool) -> None:
    cs = SUITES[code]
    assert cs.mac is not None
    key, mac_key = bytes(cs.key_len), bytes(range(48))[: {"sha1": 20, "sha256": 32, "sha384": 48}[cs.mac]]
    fragment = _cbc_record(key, mac_key, cs.mac, b"hello over CBC" * 3, 5, etm)
    prot = Tls12Cbc(cs, key, mac_key, b"", 0x0303, etm)
    prot.seq = 5
    assert prot.decrypt(23, 0x0303, fragment) == (23, b"hello over CBC" * 3)
    prot.seq = 6  # the MAC covers the sequence number
    assert prot.decrypt(23, 0x0303, fragment) is None
    other = Tls12Cbc(cs, key, mac_key, b"", 0x0303, not etm)
    other.seq = 5
    assert other.decrypt(23, 0x0303, fragment) is None


def test_tls12_chacha20() -> None:
    """RFC 7905 §2: nonce = IV XOR seq; additional data as RFC 5246 §6.2.3.3."""
    cs = SUITES[0xCCA8]
    key, iv = bytes(range(32)), bytes(range(12))
    seq = 3
    nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big"), strict=True))
    aad = struct.pack("!QBHH", seq, 23, 0x0303, 5)
    fragment = ChaCha20Poly1305(key).encrypt(nonce, b"hello", aad)
    prot = Tls12Aead(cs, key, iv)
    prot.seq = seq
    assert prot.decrypt(23, 0x0303, fragment) == (23, b"hello")
    assert prot.seq == 4


def test_suite_names() -> None:
    assert suite_name(0x1302) == "TLS_AES_256_GCM_SHA384"
    assert suite_name(0x000A) == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    assert suite_name(0x2A2A) == "GREASE_0x2A2A"
    assert suite_name(0xABCD) == "0xABCD"


def test_protection_repr_shows_no_key() -> None:
    prot = Tls13Aead(AES128_GCM_SHA256, v.C_AP)
    text = repr(prot)
    key, iv = traffic_key_iv(v.C_AP, 16, "sha256")
    for secret in (v.C_AP, key, iv):
        assert secret.hex() not in text.lower()
