"""TLS record framing over one direction's byte stream, fed in pieces (RFC 8446 §5.1, RFC 5246 §6.2).

`RecordReader.feed(data)` returns every complete record with its stream offsets; `gap(n)` and
`eof()` say what the missing or missing-at-the-end bytes did to the framing. The reader holds at
most one record (5 + 2^16 - 1 bytes, the u16 length's limit). It never raises on captured bytes:
what breaks a rule is a ParserAnomaly at the record's first byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from analyzer.model.codes.tls import TLS_BAD_RECORD, TLS_RECORD_OVERFLOW, TLS_TRUNCATED_RECORD
from analyzer.model.common import ParserAnomaly

__all__ = [
    "ALERT",
    "APPLICATION_DATA",
    "CHANGE_CIPHER_SPEC",
    "CONTENT_TYPES",
    "HANDSHAKE",
    "HEADER",
    "HEARTBEAT",
    "MAX_CIPHERTEXT_12",
    "MAX_CIPHERTEXT_13",
    "MAX_PLAINTEXT",
    "RecordReader",
    "Resync",
    "TlsRecord",
]

HEADER = 5  # type u8, version u16, length u16
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT = 20, 21, 22, 23, 24
CONTENT_TYPES = {
    20: "change_cipher_spec",
    21: "alert",
    22: "handshake",
    23: "application_data",
    24: "heartbeat",
}
MAX_PLAINTEXT = 1 << 14  # RFC 8446 §5.1, RFC 5246 §6.2.1: TLSPlaintext.length <= 2^14
MAX_CIPHERTEXT_13 = (1 << 14) + 256  # RFC 8446 §5.2: TLSCiphertext.length <= 2^14 + 256
MAX_CIPHERTEXT_12 = (1 << 14) + 2048  # RFC 5246 §6.2.3: TLSCiphertext.length <= 2^14 + 2048


@dataclass(slots=True)
class TlsRecord:
    """One record: [start, end) are the stream offsets of its header's first byte and of the byte
    after its fragment. `complete` False: some of its bytes were never captured (no fragment)."""

    content_type: int
    version: int
    length: int
    start: int
    end: int
    fragment: bytes
    complete: bool = True
    oversize: bool = False  # over the reader's limit (reported when its header was read)

    @property
    def header(self) -> bytes:
        """The 5 header bytes as on the wire (the TLS 1.3 AEAD's additional data, RFC 8446 §5.2)."""
        return struct.pack("!BHH", self.content_type, self.version, self.length)


@dataclass(slots=True)
class Resync:
    """The framing, lost at a gap, goes on at stream offset `at`: `skipped` bytes (never captured
    or passed over) are behind it, and the records in them are unknown."""

    at: int
    skipped: int


def _plausible(buf: bytearray, i: int) -> bool:
    """A record header at i (RFC 8446 §5.1, RFC 5246 §6.2.1): type 20-24, version 3.1-3.4, a length
    within the ciphertext bound."""
    if not 20 <= buf[i] <= 24 or buf[i + 1] != 3 or not 1 <= buf[i + 2] <= 4:
        return False
    return 0 < ((buf[i + 3] << 8) | buf[i + 4]) <= MAX_CIPHERTEXT_12


Item = TlsRecord | ParserAnomaly | Resync


class RecordReader:
    """Frames one direction; `lost` once the framing cannot be followed any more (a header that
    is not TLS). After a gap across a record boundary it looks for the next plausible header
    (two in a row, or one that ends where the data ends) and goes on there. `limit` is the
    longest protected record allowed (the session lowers it to TLS 1.3's once it knows the
    version); a longer record is reported as soon as its header is read, so that a record that
    never ends is reported too. The session checks plaintext records against 2^14."""

    __slots__ = ("_buf", "_lost_at", "_oversize_at", "_pos", "_searching", "_skip", "limit", "lost")

    def __init__(self, base: int = 0) -> None:
        self._buf = bytearray()
        self._pos = base  # stream offset of _buf[0]
        self._skip = 0  # bytes of a record damaged by a gap still to pass over
        self._oversize_at = -1  # the record already reported as too long
        self.limit = MAX_CIPHERTEXT_12
        self.lost = False
        self._searching = False  # looking for a record header after a gap
        self._lost_at = 0

    @property
    def position(self) -> int:
        """The stream offset of the next byte the reader expects."""
        return self._pos + len(self._buf) + self._skip

    def feed(self, data: bytes) -> list[Item]:
        if self.lost:
            self._pos += len(data)
            return []
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            self._pos += n
            data = data[n:]
            if not data:
                return []
        buf = self._buf
        buf += data
        out: list[Item] = []
        if self._searching and not self._search(out):
            return out
        i = 0
        while len(buf) - i >= HEADER:
            ctype, major, minor, length = buf[i], buf[i + 1], buf[i + 2], (buf[i + 3] << 8) | buf[i + 4]
            at = self._pos + i
            if ctype not in CONTENT_TYPES or major != 3:
                # RFC 8446 §5: an unknown content type is unexpected_message; RFC 5246 §6.2.1: the
                # major version is 3. The framing is lost: the rest of the direction is skipped.
                out.append(
                    ParserAnomaly(
                        TLS_BAD_RECORD,
                        f"record header {bytes(buf[i : i + HEADER]).hex(' ')} at stream offset {at}:"
                        " not a TLS record; the rest of this direction is not read as TLS",
                        at,
                    )
                )
                self.lost = True
                self._pos += len(buf)
                buf.clear()
                return out
            oversize = length > self.limit
            if oversize and self._oversize_at != at:
                self._oversize_at = at  # RFC 8446 §5.2, RFC 5246 §6.2.3: record_overflow
                out.append(
                    ParserAnomaly(
                        TLS_RECORD_OVERFLOW,
                        f"{CONTENT_TYPES[ctype]} record of {length} bytes (at most {self.limit})",
                        at,
                    )
                )
            if len(buf) - i < HEADER + length:
                break
            end = i + HEADER + length
            fragment = bytes(buf[i + HEADER : end])
            out.append(
                TlsRecord(ctype, (major << 8) | minor, length, at, self._pos + end, fragment, True, oversize)
            )
            i = end
        if i:
            del buf[:i]
            self._pos += i
        return out

    def _search(self, out: list[Item]) -> bool:
        """After a lost framing: drop the bytes before the next plausible header (True), or keep
        the last bytes that may start one and wait for more (False)."""
        buf = self._buf
        n = len(buf)
        i = 0
        while i + HEADER <= n:
            if _plausible(buf, i):
                nxt = i + HEADER + ((buf[i + 3] << 8) | buf[i + 4])
                if nxt + HEADER <= n and _plausible(buf, nxt):
                    break
                if nxt == n and buf[i : i + 3] == b"\x17\x03\x03":  # one whole record, data ends there
                    break
                if nxt + HEADER > n:
                    del buf[:i]
                    self._pos += i
                    return False  # wait for the bytes after it
            i += 1
        else:
            keep = min(n, HEADER - 1)
            del buf[: n - keep]
            self._pos += n - keep
            return False
        del buf[:i]
        self._pos += i
        self._searching = False
        out.append(Resync(self._pos, self._pos - self._lost_at))
        return True

    def gap(self, n: int) -> list[Item]:
        """`n` bytes were never captured. Inside a record whose header is known, the framing goes
        on after it (the record is returned incomplete); otherwise it is lost."""
        if self.lost or n <= 0:
            self._pos += max(n, 0)
            return []
        if self._searching:
            self._pos += len(self._buf) + n
            self._buf.clear()
            return []
        if self._skip:
            if n <= self._skip:
                self._skip -= n
                self._pos += n
                return []
            self._skip = 0  # the rest of the damaged record is inside the gap
            return self._lose(self._pos, n)
        buf = self._buf
        if len(buf) < HEADER:
            return self._lose(self._pos, n)
        length = (buf[3] << 8) | buf[4]
        need = HEADER + length - len(buf)
        start = self._pos
        rec = TlsRecord(buf[0], (buf[1] << 8) | buf[2], length, start, start + HEADER + length, b"", False)
        if n > need:
            out: list[Item] = [rec]
            self._pos = start + HEADER + length
            buf.clear()
            out += self._lose(self._pos, n - need)
            return out
        self._skip = need - n
        self._pos = start + len(buf) + n
        buf.clear()
        return [rec]

    def _lose(self, at: int, n: int) -> list[Item]:
        self._searching = True
        self._lost_at = at
        self._pos += len(self._buf) + self._skip + n
        self._buf.clear()
        self._skip = 0
        return [
            ParserAnomaly(
                TLS_TRUNCATED_RECORD,
                f"{n} bytes never captured across a record boundary at stream offset {at}: the record"
                " framing is lost until the next plausible record header",
                at,
            )
        ]

    def eof(self) -> list[Item]:
        """The stream ended: a record begun and not finished is truncated (RFC 8446 §5.1)."""
        if self.lost or self._searching or not self._buf:
            return []
        buf = self._buf
        at = self._pos
        if len(buf) < HEADER:
            what = f"{len(buf)} bytes of a record header"
        else:
            length = (buf[3] << 8) | buf[4]
            what = f"{len(buf) - HEADER} of the {length} bytes of a {CONTENT_TYPES[buf[0]]} record"
        self._pos += len(buf)
        buf.clear()
        return [ParserAnomaly(TLS_TRUNCATED_RECORD, f"the stream ended after {what}", at)]
