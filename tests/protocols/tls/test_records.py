"""Record framing over a stream fed in pieces (RFC 8446 §5.1, RFC 5246 §6.2)."""

from __future__ import annotations

from analyzer.model.common import ParserAnomaly
from analyzer.protocols.tls.records import RecordReader, Resync, TlsRecord
from tests.protocols.tls import rfc8448 as v


def _records(items: list[TlsRecord | ParserAnomaly | Resync]) -> list[TlsRecord]:
    return [i for i in items if isinstance(i, TlsRecord)]


def test_framing_in_any_pieces() -> None:
    stream = v.SERVER_STREAM
    whole = _records(RecordReader().feed(stream))
    assert [(r.content_type, r.start, r.end) for r in whole] == [
        (22, 0, 95),
        (23, 95, 774),
        (23, 774, 1001),
        (23, 1001, 1073),
        (23, 1073, 1097),
    ]
    for size in (1, 3, 7, 100, 1000):
        reader = RecordReader()
        got: list[TlsRecord] = []
        for i in range(0, len(stream), size):
            got += _records(reader.feed(stream[i : i + size]))
        assert got == whole


def test_gap_inside_a_record_keeps_the_framing() -> None:
    reader = RecordReader()
    assert reader.feed(v.SERVER_STREAM[:200]) == [_records(RecordReader().feed(v.SERVER_HELLO_RECORD))[0]]
    out = reader.gap(100)  # bytes 200..299 of the 679-byte record at 95
    assert len(out) == 1 and isinstance(out[0], TlsRecord) and not out[0].complete
    assert (out[0].start, out[0].end) == (95, 774)
    rest = _records(reader.feed(v.SERVER_STREAM[300:]))
    assert [r.start for r in rest] == [774, 1001, 1073]


def test_gap_across_a_boundary_resynchronises() -> None:
    """The framing is lost at the gap and found again at the next plausible header (two in a row,
    or one record that ends where the data ends)."""
    reader = RecordReader()
    reader.feed(v.SERVER_STREAM[:95])
    out = reader.gap(10)
    assert isinstance(out[0], ParserAnomaly) and out[0].code == "tls.truncated-record"
    out = reader.feed(v.SERVER_STREAM[105:])
    assert isinstance(out[0], Resync) and (out[0].at, out[0].skipped) == (774, 679)
    assert [r.start for r in _records(out)] == [774, 1001, 1073]
    reader = RecordReader()
    reader.feed(v.SERVER_HELLO_RECORD)
    reader.gap(len(v.SERVER_HANDSHAKE_RECORD) + 3)
    assert reader.feed(v.SERVER_TICKET_RECORD[3:]) == []  # no header in it: still looking
    out = reader.feed(v.SERVER_APP_RECORD)  # a whole record, ending with the data
    assert isinstance(out[0], Resync) and _records(out)[0].start == 1001


def test_eof_in_a_record_and_bad_header() -> None:
    reader = RecordReader()
    reader.feed(v.SERVER_STREAM[:120])
    out = reader.eof()
    assert isinstance(out[0], ParserAnomaly) and out[0].code == "tls.truncated-record" and out[0].offset == 95
    bad = RecordReader().feed(v.SERVER_HELLO_RECORD + b"GET / HTTP/1.1\r\n")
    assert isinstance(bad[-1], ParserAnomaly) and bad[-1].code == "tls.bad-record" and bad[-1].offset == 95
