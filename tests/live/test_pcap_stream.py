"""The live engine's pieces that need no interface: the incremental pcap reader, the pcapng writer,
the tool-error sentences. The reader is tested whole, one byte at a time and with trailing data."""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import analyze_file
from analyzer.capture.live import PcapngWriter, PcapStreamParser
from analyzer.capture.livetools import LiveStats, StreamPacket, classify_tool_error
from analyzer.capture.pcapfile import RawPacket, open_capture
from tests.conftest import bundled_captures

REAL = next(p for p in bundled_captures() if p.name == "ws-python-websockets.pcap")  # 34 KiB frames, µs


def pcap_stream(packets: list[tuple[int, int, bytes]], nanos: bool = True, linktype: int = 1) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for sec, frac, data in packets:
        out.append(struct.pack("<IIII", sec, frac, len(data), len(data) + 0) + data)
    return b"".join(out)


PACKETS = [
    (1_795_632_654, 438_270_123, b"\x01" * 74),
    (1_795_632_654, 999_999_999, b"\x02" * 65549),
    (1_795_632_655, 0, b""),
]


def feed_all(parser: PcapStreamParser, chunks: list[bytes]) -> list[StreamPacket]:
    out: list[StreamPacket] = []
    for c in chunks:
        out += parser.feed(c)
    return out


def expected_ticks() -> list[int]:
    return [sec * 10**9 + frac for sec, frac, _ in PACKETS]


def test_whole_stream() -> None:
    parser = PcapStreamParser()
    got = parser.feed(pcap_stream(PACKETS))
    assert parser.header_seen and parser.linktype == 1 and parser.resolution == 9
    assert [sp.packet.frame for sp in got] == [1, 2, 3]
    assert [sp.packet.data for sp in got] == [d for _, _, d in PACKETS]
    assert [sp.ticks for sp in got] == expected_ticks()
    # the timestamp is computed from integer ticks the way the pcapng reader computes it
    assert [sp.packet.ts for sp in got] == [t * 10.0**-9 + 0.0 for t in expected_ticks()]


def test_one_byte_at_a_time() -> None:
    raw = pcap_stream([*PACKETS[:1], (1, 2, b"abc")])
    parser = PcapStreamParser()
    got = feed_all(parser, [raw[i : i + 1] for i in range(len(raw))])
    assert [sp.packet.data for sp in got] == [PACKETS[0][2], b"abc"]
    assert parser.pending == 0


def test_trailing_partial_record_waits() -> None:
    raw = pcap_stream(PACKETS)
    parser = PcapStreamParser()
    got = parser.feed(raw + b"\x01\x02\x03")  # the start of a record header
    assert len(got) == 3 and parser.pending == 3 and parser.error is None
    more = parser.feed(struct.pack("<I", 7)[:1] + b"\0" * 12)  # rest of a 16-byte header: 0-byte record
    assert len(more) == 1 and more[0].packet.frame == 4


def test_microsecond_stream() -> None:
    parser = PcapStreamParser()
    got = parser.feed(pcap_stream([(10, 123456, b"x")], nanos=False, linktype=276))
    assert parser.resolution == 6 and parser.linktype == 276
    assert got[0].ticks == 10_123_456 and got[0].packet.linktype == 276


def test_not_a_pcap_stream() -> None:
    parser = PcapStreamParser()
    assert parser.feed(b"tcpdump: lo: You don't have permission...") == []
    assert parser.error is not None and "no pcap stream" in parser.error
    assert parser.feed(b"more") == []


def test_absurd_record_length_stops() -> None:
    raw = pcap_stream([]) + struct.pack("<IIII", 0, 0, 1 << 30, 1 << 30)
    parser = PcapStreamParser()
    assert parser.feed(raw) == []
    assert parser.error is not None and "damaged" in parser.error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_never_raises(data: bytes, step: int) -> None:
    parser = PcapStreamParser()
    for i in range(0, len(data), step):
        parser.feed(data[i : i + step])


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_never_raises_after_a_valid_header(data: bytes) -> None:
    parser = PcapStreamParser()
    parser.feed(pcap_stream([]) + data)


def test_real_capture_through_the_stream_reader() -> None:
    """A real tcpdump pcap (µs) read as a stream gives the reader's packets, bytes for bytes."""
    raw = REAL.read_bytes()
    parser = PcapStreamParser()
    got = feed_all(parser, [raw[i : i + 4096] for i in range(0, len(raw), 4096)])
    ref = list(open_capture(str(REAL)))
    assert [(p.frame, p.data, p.orig_len, p.linktype) for p in (sp.packet for sp in got)] == [
        (p.frame, p.data, p.orig_len, p.linktype) for p in ref
    ]
    assert max(len(p.data) for p in ref) > 30000  # big loopback frames, kept whole


def test_pcapng_writer_round_trip_keeps_timestamps_exact() -> None:
    """Live analysis and the analysis of the -w file see the same floats, to the last bit."""
    raw = REAL.read_bytes()
    parser = PcapStreamParser()
    sps = parser.feed(raw)
    fh = io.BytesIO()
    w = PcapngWriter(fh)
    w.start(parser.linktype or 1, parser.resolution)
    for sp in sps:
        w.write(sp.packet, sp.ticks)
    w.finish(LiveStats(kernel_dropped=3), parser.linktype or 1)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "w.pcapng"
        out.write_bytes(fh.getvalue())
        back = list(open_capture(str(out)))
        assert [(p.frame, p.ts, p.data, p.orig_len, p.linktype) for p in back] == [
            (sp.packet.frame, sp.packet.ts, sp.packet.data, sp.packet.orig_len, sp.packet.linktype)
            for sp in sps
        ]
        a = analyze_file(str(out)).to_dict()
    from analyzer.pipeline import analyze_packets

    b = analyze_packets([sp.packet for sp in sps]).to_dict()
    for doc in (a, b):
        doc["capture"].pop("path")
        doc["capture"].pop("format")
    assert a == b


def test_pcapng_writer_nanosecond_resolution() -> None:
    fh = io.BytesIO()
    w = PcapngWriter(fh)
    ticks = 1_795_632_654_438_270_123
    pkt = RawPacket(1, ticks * 10.0**-9 + 0.0, 1, b"\xaa" * 60, 60, 0, ticks)
    w.start(1, 9, interface="lo")
    w.write(pkt, ticks)
    w.finish()
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "n.pcapng"
        out.write_bytes(fh.getvalue())
        (back,) = list(open_capture(str(out)))
    assert back.ts == pkt.ts and back.data == pkt.data


def test_empty_capture_file_is_valid() -> None:
    fh = io.BytesIO()
    PcapngWriter(fh).finish(None, 1)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "e.pcapng"
        out.write_bytes(fh.getvalue())
        reader = open_capture(str(out))
        assert list(reader) == [] and reader.error is None


def test_tool_error_sentences() -> None:
    perm = classify_tool_error(
        "tcpdump", "lo", "tcpdump: lo: You don't have permission to perform this capture on that device\n"
    )
    assert perm.kind == "permission"
    assert "CAP_NET_RAW" in str(perm) and "setcap cap_net_raw,cap_net_admin+eip" in str(perm)
    assert str(perm).count(". ") == 0  # one sentence
    nodev = classify_tool_error("tcpdump", "nosuch0", "tcpdump: nosuch0: No such device exists\n")
    assert nodev.kind == "no-such-interface" and "'nosuch0'" in str(nodev)
    dc = classify_tool_error("dumpcap", "nosuch0", 'dumpcap: There is no device named "nosuch0".\n')
    assert dc.kind == "no-such-interface"
    bpf = classify_tool_error("tcpdump", "lo", "tcpdump: can't parse filter expression: syntax error\n")
    assert bpf.kind == "bad-filter"
    other = classify_tool_error("tcpdump", "lo", "tcpdump: something else broke\n")
    assert other.kind == "failed" and "something else broke" in str(other)
