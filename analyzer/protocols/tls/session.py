"""One TLS connection, both directions, sans-IO: ciphertext in, plaintext and verdicts out.

`TlsConnection.feed(direction, data)` frames records (records.py), reads the handshake in clear
(handshake.py), finds the connection's secrets in the key log by ClientHello.random
(keylog.py), derives the keys (schedule.py) and authenticates and decrypts every protected
record (protection.py). It returns events in stream order:

- `TlsData`: decrypted application data, with the TCP stream offsets of its record;
- `TlsLost`: application data of a record that could not be read (a gap for the layer above);
- `TlsNote`: an anomaly (code, message) at a record.

Key changes follow the messages that make them (PROTOCOLS-TLS-H2.md §5.4, §6.6): TLS 1.3 moves
to the handshake keys after the ServerHello, to the application keys after each side's
Finished, and to the next generation after a KeyUpdate (RFC 8446 §5.1, §4.6.3, §7.2); TLS 1.2
moves to the key block after each side's ChangeCipherSpec (RFC 5246 §7.1). A record that does
not authenticate under the expected keys is tried under the next ones (a lost Finished or
KeyUpdate) before it is reported. Nothing here holds a secret longer than the key log does,
and no event or message carries one.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.model.codes.tls import (
    TLS_ALERT,
    TLS_BAD_HANDSHAKE,
    TLS_DECRYPT_FAILED,
    TLS_NO_KEY,
    TLS_RECORD_OVERFLOW,
    TLS_TRUNCATED_RECORD,
    TLS_UNKNOWN_CIPHER_SUITE,
)
from analyzer.model.common import Direction, ParserAnomaly
from analyzer.model.tls import KEYLOG_HINT, TlsAlert, TlsInfo, alert_name, version_name
from analyzer.protocols.tls import handshake as hs
from analyzer.protocols.tls.certs import certificate_summary
from analyzer.protocols.tls.keylog import MASTER, KeyLog
from analyzer.protocols.tls.protection import Protection, Tls12Aead, Tls12Cbc, Tls13Aead
from analyzer.protocols.tls.records import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    CONTENT_TYPES,
    HANDSHAKE,
    MAX_CIPHERTEXT_13,
    MAX_PLAINTEXT,
    RecordReader,
    Resync,
    TlsRecord,
)
from analyzer.protocols.tls.schedule import HASH_LEN, key_block
from analyzer.protocols.tls.suites import CipherSuite, suite, suite_name

__all__ = ["TlsConnection", "TlsData", "TlsEvent", "TlsLost", "TlsNote"]

TLS13 = 0x0304
MAX_PENDING = 64  # client records held until the ServerHello says how to read them (0-RTT)
MAX_FAILURES_LISTED = 20  # tls.decrypt-failed records per direction; the rest are counted
MAX_SEQ_SKIP = 64  # records that may have been lost in a gap: sequence numbers tried after it
RESYNC_TRIES = 4  # records tried that way before the framing found after a gap is given up
_C2S, _S2C = Direction.C2S, Direction.S2C


@dataclass(slots=True)
class TlsData:
    direction: Direction
    data: bytes
    start: int  # TCP stream offsets of the record that carried it
    end: int


@dataclass(slots=True)
class TlsLost:
    direction: Direction
    length: int  # about how many plaintext bytes the record held
    start: int
    end: int


@dataclass(slots=True)
class TlsNote:
    direction: Direction | None
    code: str
    message: str
    start: int
    end: int


TlsEvent = TlsData | TlsLost | TlsNote


class _Side:
    """One direction: its framing, handshake buffer and keys."""

    __slots__ = ("ccs", "epoch", "failed", "hs", "midstream", "next", "prot", "reader", "resync")

    def __init__(self) -> None:
        self.reader = RecordReader()
        self.hs = hs.HandshakeBuffer()
        self.prot: Protection | None = None
        self.epoch = ""  # TLS 1.3: "early", "handshake" or "application"
        self.next: list[tuple[str, Tls13Aead]] = []  # TLS 1.3: the epochs still to come, in order
        self.ccs = False  # TLS <= 1.2: ChangeCipherSpec seen, every later record is protected
        self.failed = 0
        self.resync = 0  # records still to try with later sequence numbers (after a gap)
        # the capture started after this direction's hello (D5): no record can be read in clear
        self.midstream: bool | None = None

    def advance(self) -> bool:
        if not self.next:
            return False
        self.epoch, prot = self.next.pop(0)
        self.prot = prot
        return True


class TlsConnection:
    """The TLS layer of one TCP connection. `keys` may be None (nothing can be decrypted)."""

    def __init__(self, keys: KeyLog | None) -> None:
        self.keys = keys
        self.info = TlsInfo()
        self.sides = {_C2S: _Side(), _S2C: _Side()}
        self.ch: hs.ClientHello | None = None
        self.sh: hs.ServerHello | None = None
        self.version: int | None = None
        self.suite: CipherSuite | None = None
        self._pending: list[TlsRecord] = []
        self._no_key_said = False
        self._out: list[TlsEvent] = []

    def __repr__(self) -> str:
        return f"TlsConnection(version={self.info.version}, decrypted={self.info.decrypted})"

    # -- input --
    def feed(self, d: Direction, data: bytes) -> list[TlsEvent]:
        return self._run(d, self.sides[d].reader.feed(data))

    def gap(self, d: Direction, n: int) -> list[TlsEvent]:
        return self._run(d, self.sides[d].reader.gap(n))

    def eof(self, d: Direction) -> list[TlsEvent]:
        return self._run(d, self.sides[d].reader.eof())

    def finish(self) -> list[TlsEvent]:
        """The end of the connection: client records still waiting for a ServerHello, and the
        decryption failures beyond the ones listed."""
        out = self._out = []
        for rec in self._pending:
            self._undecryptable(_C2S, rec)
        self._pending = []
        for d, side in self.sides.items():
            if side.failed > MAX_FAILURES_LISTED:
                more = side.failed - MAX_FAILURES_LISTED
                out.append(TlsNote(d, TLS_DECRYPT_FAILED, f"{more} more records did not authenticate", 0, 0))
        if not self.info.decrypted and self.info.not_decrypted is None:
            self.info.not_decrypted = "no protected record seen"
        return out

    def _run(self, d: Direction, items: list[TlsRecord | ParserAnomaly | Resync]) -> list[TlsEvent]:
        out = self._out = []
        for item in items:
            if isinstance(item, ParserAnomaly):
                out.append(TlsNote(d, item.code, item.message, item.offset, item.offset + 1))
            elif isinstance(item, Resync):
                side = self.sides[d]
                side.resync = RESYNC_TRIES  # records were lost: the sequence number is not known
                side.hs.reset()
                if side.epoch == "application" or (self.version != TLS13 and side.prot is not None):
                    out.append(TlsLost(d, item.skipped, item.at, item.at))
            else:
                self.info.records[d.value] += 1
                self._record(d, item)
        return out

    def _note(self, d: Direction | None, code: str, message: str, rec: TlsRecord) -> None:
        self._out.append(TlsNote(d, code, message, rec.start, rec.end))

    # -- records --
    def _protected(self, side: _Side, content_type: int, length: int) -> bool:
        if side.midstream is None:  # the first record: a hello, or a plaintext alert (D1, D3)
            side.midstream = not (content_type == HANDSHAKE or (content_type == ALERT and length == 2))
        if side.midstream:
            return True
        if self.version is not None and self.version < TLS13:
            return side.ccs  # RFC 5246 §7.1: every record after ChangeCipherSpec
        return content_type == APPLICATION_DATA  # RFC 8446 §5.2: opaque_type is always 23

    def _record(self, d: Direction, rec: TlsRecord) -> None:
        side = self.sides[d]
        protected = self._protected(side, rec.content_type, rec.length)
        if not protected and not rec.oversize and rec.length > MAX_PLAINTEXT:
            # RFC 8446 §5.1, RFC 5246 §6.2.1: TLSPlaintext.length MUST NOT exceed 2^14
            self._note(
                d,
                TLS_RECORD_OVERFLOW,
                f"plaintext record of {rec.length} bytes (at most {MAX_PLAINTEXT})",
                rec,
            )
        if not rec.complete:
            self._note(
                d, TLS_TRUNCATED_RECORD, f"{rec.length}-byte record with bytes never captured: not read", rec
            )
            if protected and side.prot is not None:
                side.prot.seq += 1  # it was sent: the next record has the next sequence number
                if side.epoch == "application" or self.version != TLS13:
                    self._out.append(TlsLost(d, rec.length, rec.start, rec.end))
            return
        if not protected:
            self._content(d, rec.content_type, rec.fragment, rec, False)
        elif side.prot is not None:
            self._decrypt(d, side, rec)
        elif d is _C2S and self.sh is None and self.ch is not None and len(self._pending) < MAX_PENDING:
            self._pending.append(rec)  # 0-RTT data, or the client's flight before the ServerHello
        else:
            self._undecryptable(d, rec)

    def _decrypt(self, d: Direction, side: _Side, rec: TlsRecord) -> None:
        assert side.prot is not None
        seq = side.prot.seq
        if side.resync:
            res = self._after_gap(side, rec)
        else:
            res = side.prot.decrypt(rec.content_type, rec.version, rec.fragment)
        if res is None and self.version == TLS13:
            res = self._try_next(side, rec)
        if res is None:
            side.failed += 1
            self.info.decrypt_failed[d.value] += 1
            if side.failed <= MAX_FAILURES_LISTED:
                what = f"{side.epoch} " if side.epoch else ""
                self._note(
                    d,
                    TLS_DECRYPT_FAILED,
                    f"{CONTENT_TYPES[rec.content_type]} record of {rec.length} bytes (sequence number {seq})"
                    f" does not authenticate with the {what}keys of the key log",
                    rec,
                )
            if side.epoch == "application" or self.version != TLS13:
                self._out.append(TlsLost(d, max(rec.length - 17, 0), rec.start, rec.end))
            return
        self.info.decrypted = True
        self.info.not_decrypted = None
        content_type, plain = res
        self._content(d, content_type, plain, rec, True)

    def _after_gap(self, side: _Side, rec: TlsRecord) -> tuple[int, bytes] | None:
        """The first records after a gap that lost the framing: the records in the gap moved the
        sequence number on by an unknown count (RFC 8446 §5.3, RFC 5246 §6.1): try the next ones."""
        prot = side.prot
        assert prot is not None
        base = prot.seq
        for k in range(MAX_SEQ_SKIP):
            prot.seq = base + k
            res = prot.attempt(rec.content_type, rec.version, rec.fragment)
            if res is not None:
                side.resync = 0
                return res
        prot.seq = base + 1
        side.resync -= 1
        return None

    def _try_next(self, side: _Side, rec: TlsRecord) -> tuple[int, bytes] | None:
        """TLS 1.3: the record may be under the next keys (a Finished, EndOfEarlyData or KeyUpdate
        that was lost, or 0-RTT data that was rejected)."""
        if side.next:
            res = side.next[0][1].attempt(rec.content_type, rec.version, rec.fragment)
            if res is not None:
                side.advance()
            return res
        if side.epoch == "application" and isinstance(side.prot, Tls13Aead):
            nxt = side.prot.peek_next()
            res = nxt.attempt(rec.content_type, rec.version, rec.fragment)
            if res is not None:
                side.prot = nxt
            return res
        return None

    def _undecryptable(self, d: Direction, rec: TlsRecord) -> None:
        if self._no_key_said:
            return
        self._no_key_said = True
        info = self.info
        if self.sh is not None and self.suite is None:
            reason = f"cipher suite {info.cipher_suite} is not supported"
            info.not_decrypted = reason
            return  # tls.unknown-cipher-suite said so
        if self.keys is None or not len(self.keys):
            reason = "no key log"
        elif self.ch is None:
            reason = "the capture starts after the TLS handshake: no ClientHello, no client_random to look up"
        else:
            reason = f"no secret in the key log for client_random {self.ch.random.hex()}"
        info.not_decrypted = reason
        where = f" to {info.sni}" if info.sni else ""
        offered = ",".join(info.alpn_offered) or "none"
        alpn = f", ALPN {info.alpn}" if info.alpn else f", ALPN offered {offered}"
        version = info.version or "TLS"
        self._note(d, TLS_NO_KEY, f"{version}{where}{alpn} not decrypted: {reason}; {KEYLOG_HINT}", rec)

    # -- content --
    def _content(self, d: Direction, content_type: int, data: bytes, rec: TlsRecord, encrypted: bool) -> None:
        if content_type == APPLICATION_DATA:
            if data:
                self._out.append(TlsData(d, data, rec.start, rec.end))
        elif content_type == HANDSHAKE:
            for item in self.sides[d].hs.feed(data):
                if isinstance(item, str):
                    self._note(d, TLS_BAD_HANDSHAKE, item, rec)
                else:
                    self._message(d, item[0], item[1], rec)
        elif content_type == ALERT:
            self._alert(d, data, rec, encrypted)
        elif content_type == CHANGE_CIPHER_SPEC and not encrypted:
            self._ccs(d, rec)
        # heartbeat (RFC 6520) and 1.3 compatibility CCS records carry nothing to read

    def _alert(self, d: Direction, data: bytes, rec: TlsRecord, encrypted: bool) -> None:
        """RFC 8446 §6, RFC 5246 §7.2: level u8, description u8."""
        for i in range(0, min(len(data), 8) - 1, 2):
            level, desc = data[i], data[i + 1]
            self.info.alerts.append(TlsAlert(d.value, level, desc, encrypted, rec.start, rec.end))
            if desc != 0:  # close_notify is the orderly end (RFC 8446 §6.1)
                kind = {1: "warning", 2: "fatal"}.get(level, f"level {level}")
                side = "client" if d is _C2S else "server"
                self._note(d, TLS_ALERT, f"{kind} alert {alert_name(desc)} ({desc}) from the {side}", rec)

    def _ccs(self, d: Direction, rec: TlsRecord) -> None:
        """RFC 5246 §7.1: the sender's next records use the pending keys, sequence number 0."""
        if self.version is None or self.version >= TLS13:
            return  # RFC 8446 §D.4: the middlebox-compatibility CCS is dropped
        side = self.sides[d]
        side.ccs = True
        side.prot = self._keys12(d)

    # -- handshake messages --
    def _message(self, d: Direction, mtype: int, body: bytes, rec: TlsRecord) -> None:
        msg = hs.parse_message(mtype, body, self.version == TLS13)
        if isinstance(msg, hs.Malformed):
            self._note(d, TLS_BAD_HANDSHAKE, f"handshake message type {mtype} is malformed: {msg}", rec)
        elif isinstance(msg, hs.ClientHello):
            if d is _C2S:
                self._client_hello(msg)
        elif isinstance(msg, hs.ServerHello):
            if d is _S2C:
                self._server_hello(msg, rec)
        elif isinstance(msg, hs.EncryptedExtensions):
            self.info.alpn = msg.alpn or self.info.alpn
            if msg.early_data:
                self.info.early_data = "accepted"
        elif isinstance(msg, hs.Certificate):
            if d is _S2C:
                self.info.certificates = [certificate_summary(der) for der in msg.certificates]
                self.info.certificate_count = msg.count
        elif isinstance(msg, hs.NewSessionTicket):
            self._ticket(msg)
        elif self.version == TLS13:
            self._message13(d, mtype, msg)

    def _message13(self, d: Direction, mtype: int, msg: object) -> None:
        side = self.sides[d]
        if mtype == hs.FINISHED and side.epoch == "handshake":
            side.advance()  # RFC 8446 §7.1: after Finished, the application traffic keys
        elif mtype == hs.END_OF_EARLY_DATA and d is _C2S and side.epoch == "early":
            side.advance()  # RFC 8446 §4.5: the client's handshake keys follow
        elif (
            isinstance(msg, hs.KeyUpdate) and side.epoch == "application" and isinstance(side.prot, Tls13Aead)
        ):
            side.prot.key_update()  # RFC 8446 §4.6.3: the sender's next record uses the next generation
            self.info.key_updates[d.value] += 1

    def _client_hello(self, ch: hs.ClientHello) -> None:
        if self.ch is not None:
            return  # the second ClientHello after a HelloRetryRequest has the same random (§4.1.2)
        self.ch = ch
        info = self.info
        info.client_random = ch.random.hex()
        info.sni = ch.sni
        info.alpn_offered = ch.alpn
        info.versions_offered = [version_name(v) for v in ch.supported_versions or [ch.version]]
        info.cipher_suites_offered = [suite_name(c) for c in ch.cipher_suites]
        info.key_share_groups = ch.key_share_groups
        info.session_id = ch.session_id.hex() or None
        info.session_ticket = bool(ch.session_ticket) or ch.psk
        if ch.early_data:
            info.early_data = "offered"

    def _server_hello(self, sh: hs.ServerHello, rec: TlsRecord) -> None:
        info = self.info
        if sh.hrr:
            info.hello_retry = True
            return
        if self.sh is not None:
            return  # a renegotiation (RFC 5246 §7.4.1.1): its keys are not followed
        self.sh = sh
        self.version = sh.version
        if sh.version == TLS13:
            for side in self.sides.values():
                side.reader.limit = MAX_CIPHERTEXT_13
        info.version = version_name(sh.version)
        info.cipher_suite = suite_name(sh.cipher_suite)
        info.cipher_suite_code = sh.cipher_suite
        if sh.alpn is not None:
            info.alpn = sh.alpn
        ch = self.ch
        if self.version == TLS13:
            info.resumed = sh.psk  # RFC 8446 §4.2.11: the server selected a PSK
        else:
            info.resumed = bool(sh.session_id) and ch is not None and sh.session_id == ch.session_id
            info.extended_master_secret = sh.ems and ch is not None and ch.ems
        cs = suite(sh.cipher_suite)
        if cs is None or cs.tls13 != (self.version == TLS13):
            info.not_decrypted = f"cipher suite {info.cipher_suite} is not supported"
            self._note(
                _S2C,
                TLS_UNKNOWN_CIPHER_SUITE,
                f"the server chose {info.cipher_suite} (0x{sh.cipher_suite:04x}) in {info.version}:"
                " socketscope cannot decrypt it; records are counted only",
                rec,
            )
            return
        self.suite = cs
        info.encrypt_then_mac = cs.cipher == "AES-CBC" and sh.etm and ch is not None and ch.etm
        if self.version == TLS13:
            self._keys13()
        pending, self._pending = self._pending, []
        for old in pending:
            self._record(_C2S, old)

    def _ticket(self, msg: hs.NewSessionTicket) -> None:
        if self.version != TLS13 and self.keys is not None and self.ch is not None and msg.ticket:
            master = self.keys.secret(MASTER, self.ch.random)
            if master is not None:
                self.keys.remember_session(msg.ticket, master)  # KL9: resumption by ticket

    # -- keys --
    def _keys13(self) -> None:
        """RFC 8446 §7.1, §7.3: the traffic secrets of the key log, by ClientHello.random."""
        keys, ch, cs = self.keys, self.ch, self.suite
        if keys is None or ch is None or cs is None:
            return
        hlen = HASH_LEN[cs.prf_hash]

        def prot(label: str) -> Tls13Aead | None:
            secret = keys.secret(label, ch.random)
            return Tls13Aead(cs, secret) if secret is not None and len(secret) == hlen else None

        chains = {
            _S2C: [
                ("handshake", prot("SERVER_HANDSHAKE_TRAFFIC_SECRET")),
                ("application", prot("SERVER_TRAFFIC_SECRET_0")),
            ],
            _C2S: [
                ("early", prot("CLIENT_EARLY_TRAFFIC_SECRET") if ch.early_data else None),
                ("handshake", prot("CLIENT_HANDSHAKE_TRAFFIC_SECRET")),
                ("application", prot("CLIENT_TRAFFIC_SECRET_0")),
            ],
        }
        for d, chain in chains.items():
            side = self.sides[d]
            side.next = [(epoch, p) for epoch, p in chain if p is not None]
            side.advance()

    def _keys12(self, d: Direction) -> Protection | None:
        """RFC 5246 §6.3: the key block from the master secret (CLIENT_RANDOM line, or KL9: the
        master of the session this one resumes) and both randoms."""
        keys, ch, sh, cs, version = self.keys, self.ch, self.sh, self.suite, self.version
        if keys is None or ch is None or sh is None or cs is None or version is None:
            return None
        master = keys.secret(MASTER, ch.random)
        if master is None and self.info.resumed:
            master = keys.recall_session(sh.session_id) or keys.recall_session(ch.session_ticket or b"")
        if master is None:
            return None
        keys.remember_session(sh.session_id, master)
        cbc = cs.cipher == "AES-CBC"
        mac_len = HASH_LEN[cs.mac or "sha1"] if cbc else 0
        iv_len = (16 if version <= 0x0301 else 0) if cbc else cs.iv_len
        client, server = key_block(
            master, sh.random, ch.random, version, cs.prf_hash, mac_len, cs.key_len, iv_len
        )
        mac, key, iv = client if d is _C2S else server
        if cbc:
            return Tls12Cbc(cs, key, mac, iv, version, self.info.encrypt_then_mac)
        return Tls12Aead(cs, key, iv)
