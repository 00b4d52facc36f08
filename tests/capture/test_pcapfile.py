"""The capture reader: pcap/pcapng variants, link types, big records, damaged files."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from analyzer import analyze_file
from analyzer.capture.pcapfile import MAX_BLOCK, CaptureError, CaptureReader, open_capture
from tests.conftest import corpus_file
from tests.pcapwriter import pcap_bytes, pcapng_bytes

REAL = corpus_file("zeek", "broker-websocket.pcap")  # Ethernet, 22 packets, 1 TCP connection


def real_ip_packets() -> list[tuple[float, bytes]]:
    """The IPv4 packets of a real capture, without their Ethernet headers."""
    return [(p.ts, p.data[14:]) for p in open_capture(str(REAL))]


def tcp_summary(path: Path) -> list[tuple[object, ...]]:
    a = analyze_file(str(path))
    return [
        (
            c.client["port"],
            c.server["port"],
            c.tcp["handshake"]["syn_frame"],
            c.tcp["handshake"]["ack_frame"],
            c.tcp["stream_bytes"]["c2s"],
            c.tcp["stream_bytes"]["s2c"],
        )
        for c in a.connections
    ]


EXPECTED = [(38776, 27599, 1, 3, 1426, 1833)]


def wrap(linktype: int, header: bytes) -> list[tuple[float, bytes]]:
    return [(ts, header + ip) for ts, ip in real_ip_packets()]


LINKS = {
    "raw": (101, b""),
    "ipv4": (228, b""),
    "null-le": (0, struct.pack("<I", 2)),
    "loop-be": (108, struct.pack(">I", 2)),
    "sll": (113, b"\x00\x00\x03\x04\x00\x06" + b"\x00" * 8 + b"\x08\x00"),
    "sll2": (276, b"\x08\x00\x00\x00\x00\x00\x00\x01\x03\x04\x06" + b"\x00" * 9),
    "vlan": (1, b"\x00" * 12 + b"\x81\x00\x00\x05" + b"\x08\x00"),
    "qinq": (1, b"\x00" * 12 + b"\x88\xa8\x00\x05\x81\x00\x00\x07\x08\x00"),
}


@pytest.mark.parametrize("name", sorted(LINKS))
def test_link_types(tmp_path: Path, name: str) -> None:
    lt, hdr = LINKS[name]
    f = tmp_path / f"{name}.pcap"
    f.write_bytes(pcap_bytes(wrap(lt, hdr), linktype=lt))
    assert tcp_summary(f) == EXPECTED


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, endian: str, nanos: bool) -> None:
    pkts = wrap(101, b"")
    f = tmp_path / "x.pcap"
    f.write_bytes(pcap_bytes(pkts, linktype=101, endian=endian, nanos=nanos))
    r = open_capture(str(f))
    got = list(r)
    assert [p.data for p in got] == [d for _, d in pkts]
    assert got[0].ts == pytest.approx(pkts[0][0], abs=2e-6)
    assert tcp_summary(f) == EXPECTED


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_several_interfaces_and_resolutions(tmp_path: Path, endian: str) -> None:
    ip = real_ip_packets()
    eth = [(ts, b"\x00" * 12 + b"\x08\x00" + d) for ts, d in ip]
    # even packets on a raw-IP interface with nanosecond stamps, odd ones on Ethernet with 2^-20 s
    pkts = [
        (i % 2, ts, (d if i % 2 == 0 else e[1])) for i, ((ts, d), e) in enumerate(zip(ip, eth, strict=True))
    ]
    f = tmp_path / "x.pcapng"
    f.write_bytes(pcapng_bytes([(101, 9), (1, 0x80 | 20)], pkts, endian=endian))
    r = open_capture(str(f))
    got = list(r)
    assert r.error is None
    assert len(got) == len(ip)
    assert [p.linktype for p in got[:2]] == [101, 1]
    assert got[1].ts == pytest.approx(ip[1][0], abs=1e-5)
    assert tcp_summary(f) == EXPECTED


def test_records_over_65535_bytes_are_read_whole(tmp_path: Path) -> None:
    big = b"\x45" + b"\x00" * 99_999
    f = tmp_path / "big.pcap"
    f.write_bytes(pcap_bytes([(1.0, big), (2.0, big)], linktype=101))
    got = list(open_capture(str(f)))
    assert [len(p.data) for p in got] == [100_000, 100_000]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "empty"), (b"hello world, not a capture", "not a pcap"), (b"\xd4\xc3\xb2\xa1\x02", "cut short")],
)
def test_not_a_capture(tmp_path: Path, content: bytes, fragment: str) -> None:
    f = tmp_path / "bad.pcap"
    f.write_bytes(content)
    with pytest.raises(CaptureError, match=fragment):
        open_capture(str(f))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot open"):
        open_capture(str(tmp_path / "nope.pcap"))


@pytest.mark.parametrize("cut", [30, 100, 777, 1500])
def test_truncated_capture_keeps_what_came_before(tmp_path: Path, cut: int) -> None:
    data = REAL.read_bytes()
    f = tmp_path / "cut.pcap"
    f.write_bytes(data[: len(data) - cut])
    a = analyze_file(str(f))
    assert not a.capture.complete
    assert a.capture.error and "byte" in a.capture.error
    assert 10 < a.capture.packets < 22
    assert [x.code for x in a.anomalies if x.code.startswith("capture.")] == ["capture.truncated"]


def test_corrupt_pcapng_block_length(tmp_path: Path) -> None:
    blob = bytearray(
        pcapng_bytes([(101, None)], [(0, 1.0, d) for _, d in real_ip_packets()], extra_blocks=False)
    )
    # break the length of the 5th block (an EPB) after the SHB and IDB
    pos = 0
    for _ in range(6):
        pos += struct.unpack_from("<I", blob, pos + 4)[0]
    struct.pack_into("<I", blob, pos + 4, 7)
    f = tmp_path / "corrupt.pcapng"
    f.write_bytes(bytes(blob))
    a = analyze_file(str(f))
    assert a.capture.packets == 4 and a.capture.error_kind == "corrupt"


class _CountingFile:
    """A capture file that counts the reads made on it and the bytes they return; optionally
    not seekable, like a pipe."""

    def __init__(self, path: Path, seekable: bool = True) -> None:
        self._fh = io.BufferedReader(io.FileIO(str(path), "rb"), buffer_size=1 << 20)
        self._seekable = seekable
        self.calls = 0
        self.bytes = 0

    def _count(self, data: bytes) -> bytes:
        self.calls += 1
        self.bytes += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        return self._count(self._fh.read(n))

    def read1(self, n: int = -1) -> bytes:
        return self._count(self._fh.read1(n))

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, offset: int, whence: int = 0) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        return self._fh.seek(offset, whence)

    def close(self) -> None:
        self._fh.close()


def _read_counting(path: Path, seekable: bool) -> tuple[list[bytes], int, int]:
    fh = _CountingFile(path, seekable)
    reader = CaptureReader(str(path), cast(BinaryIO, fh), "pcap")
    data = [p.data for p in reader]
    assert reader.error is None
    return data, fh.calls, fh.bytes


@pytest.mark.parametrize("seekable", [True, False], ids=["file", "pipe"])
def test_a_big_record_is_read_in_a_few_reads(tmp_path: Path, seekable: bool) -> None:
    """A record of N MiB costs O(1) reads, not one per MiB (each of which copied the buffer: a
    250 MB record took minutes); the packets around it are unchanged."""
    calls = {}
    for mib in (2, 8):
        big = bytes([0x45]) + bytes(range(256)) * (mib << 12)
        records = [(1.0, b"\x45first"), (2.0, big), (3.0, b"\x45last")]
        f = tmp_path / f"big{mib}.pcap"
        f.write_bytes(pcap_bytes(records, linktype=101))
        data, calls[mib], nbytes = _read_counting(f, seekable)
        assert data == [d for _, d in records]
        assert nbytes <= f.stat().st_size + (1 << 20) + 64  # at most the first buffer read twice
    assert calls[8] == calls[2] <= 8, calls


def test_a_record_claiming_more_than_the_file_holds(tmp_path: Path) -> None:
    """A hostile caplen under the 256 MiB bound: read as far as the file goes, reported as cut short;
    over the bound: corrupt, nothing allocated for it."""
    head = pcap_bytes([(1.0, b"\x45ok")], linktype=101)
    for claim, kind, text in [
        (MAX_BLOCK, "truncated", f"has 100 of its {MAX_BLOCK} bytes"),
        (MAX_BLOCK + 1, "corrupt", f"claims {MAX_BLOCK + 1} bytes"),
    ]:
        f = tmp_path / f"claim{claim}.pcap"
        f.write_bytes(head + struct.pack("<IIII", 2, 0, claim, claim) + b"\x45" * 100)
        r = open_capture(str(f))
        assert [p.data for p in r] == [b"\x45ok"]
        assert (r.error_kind, r.packets) == (kind, 1) and r.error and text in r.error, r.error


def test_a_big_pcapng_block_is_one_read(tmp_path: Path) -> None:
    """pcapng reads each block with one sized read already: a big block costs no more reads."""
    calls = {}
    for mib in (2, 8):
        big = bytes([0x45]) + bytes(range(256)) * (mib << 12)
        f = tmp_path / f"big{mib}.pcapng"
        f.write_bytes(pcapng_bytes([(101, None)], [(0, 1.0, b"\x45a"), (0, 2.0, big), (0, 3.0, b"\x45b")]))
        fh = _CountingFile(f)
        reader = CaptureReader(str(f), cast(BinaryIO, fh), "pcapng")
        assert [p.data for p in reader] == [b"\x45a", big, b"\x45b"] and reader.error is None
        calls[mib] = fh.calls
    assert calls[8] == calls[2], calls
