"""Resume points (CaptureReader.marks): reading from a mark gives exactly the packets a full
read gives from there on, in pcap (both byte orders, µs and ns) and pcapng (interfaces,
sections, skipped blocks); packet_details with marks equals a read from the top."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analyzer.capture import pcapfile
from analyzer.capture.pcapfile import open_capture
from analyzer.decode.details import packet_details
from tests.conftest import bundled_captures, corpus_captures, corpus_id

CAPTURES = bundled_captures() + corpus_captures()


def _key(p: Any) -> tuple[Any, ...]:
    return (p.frame, p.ts, p.linktype, p.data, p.orig_len, p.interface)


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_reading_from_any_mark_gives_the_rest_of_the_file(cap: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(pcapfile, "MARK_EVERY", 7)
    reader = open_capture(str(cap))
    full = [_key(p) for p in reader]
    marks = reader.marks
    assert [m.frame for m in marks] == list(range(7, len(full) + 1, 7))
    for mark in marks[:: max(1, len(marks) // 12)] + marks[-1:]:
        again = open_capture(str(cap))
        again.resume(mark)
        assert [_key(p) for p in again] == full[mark.frame :], mark
        assert again.error == reader.error


def test_packet_details_from_marks_equal_a_read_from_the_top(monkeypatch: Any) -> None:
    monkeypatch.setattr(pcapfile, "MARK_EVERY", 5)
    for cap in bundled_captures():
        reader = open_capture(str(cap))
        n = sum(1 for _ in reader)
        wanted = [n, n // 2, n // 2 + 1, 3]
        assert packet_details(str(cap), wanted, reader.marks) == packet_details(str(cap), wanted)


def test_marks_of_another_file_fall_back_to_a_read_from_the_top(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(pcapfile, "MARK_EVERY", 5)
    caps = bundled_captures()
    a, b = caps[0], caps[1]
    reader = open_capture(str(a))
    for _ in reader:
        pass
    bogus = [m._replace(offset=m.offset + 3) for m in reader.marks]  # points into a record
    want = [len(bogus) * 5]
    got = packet_details(str(b), want, bogus)
    assert got == packet_details(str(b), want)
