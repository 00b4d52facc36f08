"""Handshake messages a passive reader needs (RFC 8446 §4, RFC 5246 §7.4; PROTOCOLS-TLS-H2.md §4).

`HandshakeBuffer` reassembles messages from record fragments (`msg_type u8 | length u24 | body`);
`parse_message` turns a body into a ClientHello, ServerHello, EncryptedExtensions, Certificate,
NewSessionTicket or KeyUpdate. Lengths that do not add up give a `Malformed` with the reason;
captured bytes never raise out of here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CERTIFICATE",
    "CLIENT_HELLO",
    "ENCRYPTED_EXTENSIONS",
    "END_OF_EARLY_DATA",
    "FINISHED",
    "HRR_RANDOM",
    "KEY_UPDATE",
    "MAX_CERTIFICATES",
    "MAX_MESSAGE",
    "NEW_SESSION_TICKET",
    "SERVER_HELLO",
    "Certificate",
    "ClientHello",
    "EncryptedExtensions",
    "HandshakeBuffer",
    "KeyUpdate",
    "Malformed",
    "Message",
    "NewSessionTicket",
    "ServerHello",
    "parse_message",
]

CLIENT_HELLO, SERVER_HELLO, NEW_SESSION_TICKET, END_OF_EARLY_DATA = 1, 2, 4, 5
ENCRYPTED_EXTENSIONS, CERTIFICATE, FINISHED, KEY_UPDATE = 8, 11, 20, 24
MAX_MESSAGE = 1 << 20  # bytes of one handshake message (u24 allows 16 MiB); longer ones are skipped
MAX_CERTIFICATES = 16  # of a chain, summarized
# RFC 8446 §4.1.3: a HelloRetryRequest's Random is SHA-256("HelloRetryRequest")
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

# extension types (RFC 8446 §4.2, RFC 6066 §3, RFC 7301 §3.1, RFC 7366 §2, RFC 7627 §5.1, RFC 5077 §3.2)
EXT_SNI, EXT_GROUPS, EXT_ALPN, EXT_ETM, EXT_EMS, EXT_TICKET = 0, 10, 16, 22, 23, 35
EXT_PSK, EXT_EARLY_DATA, EXT_VERSIONS, EXT_KEY_SHARE = 41, 42, 43, 51


class Malformed(Exception):  # a verdict on captured bytes, caught in this module
    """Lengths that do not add up (caught here; never leaves parse_message)."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Malformed(f"{n} bytes wanted at offset {self.pos} of {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vec(self, n: int) -> bytes:
        """A vector with an n-byte length prefix."""
        return self.take(self.uint(n))

    def left(self) -> int:
        return len(self.data) - self.pos


def _u16s(data: bytes) -> list[int]:
    if len(data) % 2:
        raise Malformed("a list of u16 with an odd length")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "backslashreplace")


def _extensions(r: _Reader) -> list[tuple[int, bytes]]:
    """RFC 8446 §4.2: Extension extensions<8..2^16-1> (optional in TLS <= 1.2 hellos)."""
    if not r.left():
        return []
    block = _Reader(r.vec(2))
    out = []
    while block.left():
        etype = block.uint(2)
        out.append((etype, block.vec(2)))
    return out


def _alpn_list(data: bytes) -> list[str]:
    """RFC 7301 §3.1: ProtocolName protocol_name_list<2..2^16-1>, ProtocolName opaque<1..2^8-1>."""
    r = _Reader(_Reader(data).vec(2))
    names = []
    while r.left():
        names.append(_text(r.vec(1)))
    return names


def _sni(data: bytes) -> str | None:
    """RFC 6066 §3: ServerNameList; the host_name (type 0) entry."""
    r = _Reader(_Reader(data).vec(2))
    while r.left():
        kind = r.uint(1)
        name = r.vec(2)
        if kind == 0:
            return _text(name)
    return None


@dataclass(slots=True)
class ClientHello:
    version: int
    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    extensions: list[int] = field(default_factory=list)
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    supported_versions: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    key_share_groups: list[int] = field(default_factory=list)
    early_data: bool = False
    psk: bool = False
    session_ticket: bytes | None = None  # None: no extension; b"": asks for a ticket
    etm: bool = False
    ems: bool = False


@dataclass(slots=True)
class ServerHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    extensions: list[int] = field(default_factory=list)
    selected_version: int | None = None
    alpn: str | None = None
    key_share_group: int | None = None
    psk: bool = False
    session_ticket: bool = False
    etm: bool = False
    ems: bool = False

    @property
    def hrr(self) -> bool:
        return self.random == HRR_RANDOM

    @property
    def version(self) -> int:
        """RFC 8446 §4.2.1: supported_versions when present, else legacy_version."""
        return self.selected_version if self.selected_version is not None else self.legacy_version


@dataclass(slots=True)
class EncryptedExtensions:
    extensions: list[int]
    alpn: str | None = None
    early_data: bool = False


@dataclass(slots=True)
class Certificate:
    certificates: list[bytes]  # DER, the first MAX_CERTIFICATES
    count: int


@dataclass(slots=True)
class NewSessionTicket:
    lifetime: int
    ticket: bytes


@dataclass(slots=True)
class KeyUpdate:
    request_update: int


def _selected_alpn(data: bytes) -> str | None:
    """RFC 7301 §3.1: the server's ALPN extension names the one protocol it selected."""
    names = _alpn_list(data)
    return names[0] if names else None


def _presence_flags(hello: ClientHello | ServerHello) -> None:
    """The extensions of a hello whose presence is what they say (their bodies are not read)."""
    hello.psk = EXT_PSK in hello.extensions  # RFC 8446 §4.2.11 pre_shared_key
    hello.etm = EXT_ETM in hello.extensions  # RFC 7366 §2 encrypt_then_mac
    hello.ems = EXT_EMS in hello.extensions  # RFC 7627 §5.1 extended_master_secret


def _client_hello(r: _Reader) -> ClientHello:
    """RFC 8446 §4.1.2, RFC 5246 §7.4.1.2."""
    ch = ClientHello(r.uint(2), r.take(32), r.vec(1), _u16s(r.vec(2)))
    r.vec(1)  # legacy_compression_methods
    for etype, data in _extensions(r):
        ch.extensions.append(etype)
        d = _Reader(data)
        if etype == EXT_SNI and data:
            ch.sni = _sni(data)
        elif etype == EXT_ALPN:
            ch.alpn = _alpn_list(data)
        elif etype == EXT_VERSIONS:
            ch.supported_versions = _u16s(d.vec(1))
        elif etype == EXT_GROUPS:
            ch.groups = _u16s(d.vec(2))
        elif etype == EXT_KEY_SHARE:
            shares = _Reader(d.vec(2))
            while shares.left():
                ch.key_share_groups.append(shares.uint(2))
                shares.vec(2)
        elif etype == EXT_TICKET:
            ch.session_ticket = data
    ch.early_data = EXT_EARLY_DATA in ch.extensions  # RFC 8446 §4.2.10: an empty extension
    _presence_flags(ch)
    return ch


def _server_hello(r: _Reader) -> ServerHello:
    """RFC 8446 §4.1.3, RFC 5246 §7.4.1.3."""
    sh = ServerHello(r.uint(2), r.take(32), r.vec(1), r.uint(2))
    r.uint(1)  # legacy_compression_method
    for etype, data in _extensions(r):
        sh.extensions.append(etype)
        d = _Reader(data)
        if etype == EXT_VERSIONS:
            sh.selected_version = d.uint(2)
        elif etype == EXT_ALPN:
            sh.alpn = _selected_alpn(data)
        elif etype == EXT_KEY_SHARE and len(data) >= 2:
            sh.key_share_group = d.uint(2)
    sh.session_ticket = EXT_TICKET in sh.extensions  # RFC 5077 §3.2: empty, a ticket will follow
    _presence_flags(sh)
    return sh


def _encrypted_extensions(r: _Reader) -> EncryptedExtensions:
    """RFC 8446 §4.3.1."""
    ee = EncryptedExtensions([])
    for etype, data in _extensions(r):
        ee.extensions.append(etype)
        if etype == EXT_ALPN:
            ee.alpn = _selected_alpn(data)
        elif etype == EXT_EARLY_DATA:
            ee.early_data = True
    return ee


def _certificate(r: _Reader, tls13: bool) -> Certificate:
    """TLS 1.2 (RFC 5246 §7.4.2): ASN.1Cert certificate_list<0..2^24-1>. TLS 1.3 (RFC 8446
    §4.4.2): certificate_request_context<0..2^8-1>, CertificateEntry certificate_list<0..2^24-1>,
    each entry cert_data<1..2^24-1> and extensions<0..2^16-1>."""
    if tls13:
        r.vec(1)
    chain = _Reader(r.vec(3))
    certs: list[bytes] = []
    count = 0
    while chain.left():
        der = chain.vec(3)
        if tls13:
            chain.vec(2)
        count += 1
        if len(certs) < MAX_CERTIFICATES:
            certs.append(der)
    return Certificate(certs, count)


Message = ClientHello | ServerHello | EncryptedExtensions | Certificate | NewSessionTicket | KeyUpdate


def parse_message(mtype: int, body: bytes, tls13: bool) -> Message | Malformed | None:
    """A handshake message's body, parsed (None: a type socketscope does not read)."""
    r = _Reader(body)
    try:
        if mtype == CLIENT_HELLO:
            return _client_hello(r)
        if mtype == SERVER_HELLO:
            return _server_hello(r)
        if mtype == ENCRYPTED_EXTENSIONS:
            return _encrypted_extensions(r)
        if mtype == CERTIFICATE:
            return _certificate(r, tls13)
        if mtype == NEW_SESSION_TICKET:
            lifetime = r.uint(4)
            if tls13:  # RFC 8446 §4.6.1: ticket_age_add, ticket_nonce, ticket, extensions
                r.uint(4)
                r.vec(1)
            return NewSessionTicket(lifetime, r.vec(2))  # RFC 5077 §3.3
        if mtype == KEY_UPDATE:
            return KeyUpdate(r.uint(1))  # RFC 8446 §4.6.3
    except Malformed as exc:
        return exc
    return None


class HandshakeBuffer:
    """Handshake messages from the fragments of one direction and epoch (RFC 8446 §5.1: a message
    may span records; one record may hold several). Messages over MAX_MESSAGE are skipped."""

    __slots__ = ("_buf", "_skip")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0

    def pending(self) -> int:
        return len(self._buf)

    def feed(self, fragment: bytes) -> list[tuple[int, bytes] | str]:
        """Complete (msg_type, body) pairs; a str says a message was skipped, and why."""
        out: list[tuple[int, bytes] | str] = []
        if self._skip:
            n = min(self._skip, len(fragment))
            self._skip -= n
            fragment = fragment[n:]
        buf = self._buf
        buf += fragment
        i = 0
        while len(buf) - i >= 4:
            mtype = buf[i]
            length = int.from_bytes(buf[i + 1 : i + 4], "big")
            if length > MAX_MESSAGE:
                out.append(f"handshake message type {mtype} of {length} bytes (at most {MAX_MESSAGE} read)")
                have = len(buf) - i - 4
                self._skip = max(length - have, 0)
                i = len(buf) if self._skip else i + 4 + length
                continue
            if len(buf) - i < 4 + length:
                break
            out.append((mtype, bytes(buf[i + 4 : i + 4 + length])))
            i += 4 + length
        del buf[:i]
        return out

    def reset(self) -> None:
        self._buf.clear()
        self._skip = 0
