"""benchmarks/pcaptools.py: counting, cutting and replicating captures for the benchmark."""

from __future__ import annotations

import importlib.util
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import CAPTURES, bundled_captures
from tests.pcapwriter import pcap_bytes

_spec = importlib.util.spec_from_file_location(
    "socketscope_bench_pcaptools_test", Path(__file__).resolve().parents[2] / "benchmarks" / "pcaptools.py"
)
assert _spec is not None and _spec.loader is not None
pcaptools = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = pcaptools  # dataclasses look their module up there
_spec.loader.exec_module(pcaptools)


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def segment(
    sport: int, dport: int, payload: bytes = b"", *, seq: int = 1, good_checksum: bool = True
) -> bytes:
    """Ethernet + IPv4 + TCP with a checksum computed here (RFC 793 §3.1, RFC 791 §3.1)."""
    src, dst = bytes([10, 77, 0, 1]), bytes([10, 77, 1, 1])
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x18, 65535, 0, 0) + payload
    csum = ~_sum16(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp) & 0xFFFF
    if not good_checksum:
        csum ^= 0x5A5A
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", ~_sum16(ip) & 0xFFFF) + ip[12:]
    return b"\0" * 6 + b"\x02" + b"\0" * 5 + b"\x08\x00" + ip + tcp


def write(path: Path, packets: list[tuple[float, bytes]]) -> Path:
    path.write_bytes(pcap_bytes(packets))
    return path


def ports(data: bytes) -> tuple[int, int]:
    sport, dport = struct.unpack_from("!HH", data, 34)
    return int(sport), int(dport)


def test_checksum_helper_agrees_with_itself() -> None:
    assert pcaptools.tcp_checksum_ok(segment(40000, 80, b"hello")) is True
    assert pcaptools.tcp_checksum_ok(segment(40000, 80, b"hello", good_checksum=False)) is False
    assert pcaptools.tcp_checksum_ok(b"\0" * 10) is None


def test_stats_counts_payload_from_ip_lengths(tmp_path: Path) -> None:
    # a loopback-sized segment (IPv4 total length 65535, as on lo's 64 KiB MTU): with its Ethernet
    # header the record is 65549 bytes, longer than the 65535 bytes scapy's reader keeps
    big = b"x" * (65535 - 40)
    pkts = [(1.0, segment(40000, 80)), (1.5, segment(40000, 80, b"abc")), (2.25, segment(80, 40000, big))]
    p = write(tmp_path / "a.pcap", pkts)
    st_ = pcaptools.stats(p)
    assert st_.packets == 3
    assert st_.first_ts == 1.0 and st_.last_ts == 2.25 and st_.duration == 1.25
    assert st_.records_over_64k == 1
    assert st_.bytes_beyond_64k == 14
    assert st_.tcp_segments == 3
    assert st_.tcp_payload_segments == 2
    assert st_.tcp_payload_bytes == 3 + len(big)


@pytest.mark.tshark
@pytest.mark.parametrize("capture", bundled_captures()[:6], ids=lambda p: p.name)
def test_stats_payload_matches_tshark(capture: Path, tshark: str) -> None:
    if capture.suffix != ".pcap":
        pytest.skip("pcaptools reads classic pcap only")
    out = subprocess.run(
        [tshark, "-r", str(capture), "-T", "fields", "-e", "tcp.len"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    expected = sum(int(v) for v in out.split() if v)
    assert pcaptools.stats(capture).tcp_payload_bytes == expected


def test_prefix_by_packets_and_bytes(tmp_path: Path) -> None:
    src = CAPTURES / "ws-python-websockets.pcap"
    total = pcaptools.stats(src)
    assert pcaptools.prefix(src, tmp_path / "p10.pcap", max_packets=10) == 10
    assert pcaptools.stats(tmp_path / "p10.pcap").packets == 10
    assert pcaptools.prefix(src, tmp_path / "all.pcap", max_packets=10**9) == total.packets
    assert (tmp_path / "all.pcap").read_bytes() == src.read_bytes()
    n = pcaptools.prefix(src, tmp_path / "half.pcap", max_bytes=total.bytes // 2)
    size = (tmp_path / "half.pcap").stat().st_size
    assert 0 < n < total.packets and size <= total.bytes // 2
    # whole records only: the file is a byte-exact prefix of the source
    assert src.read_bytes()[:size] == (tmp_path / "half.pcap").read_bytes()


def test_rotate_port_stays_in_range_and_is_a_bijection() -> None:
    lo, hi = pcaptools.EPHEMERAL_LOW, pcaptools.EPHEMERAL_HIGH
    for copy in (1, 2, 7):
        mapped = {pcaptools.rotate_port(p, copy) for p in range(lo, hi + 1)}
        assert mapped == set(range(lo, hi + 1))
        assert all(pcaptools.rotate_port(p, copy) != p for p in (lo, 40000, hi))
    assert pcaptools.rotate_port(80, 3) == 80 and pcaptools.rotate_port(8080, 3) == 8080
    assert pcaptools.rotate_port(45000, 0) == 45000


def test_replicate_shifts_time_and_rotates_client_ports(tmp_path: Path) -> None:
    pkts = [
        (100.0, segment(40000, 80)),
        (100.5, segment(80, 40000, b"hi")),
        (101.0, segment(50000, 8080, b"data", good_checksum=False)),
        (102.0, segment(1234, 5678, b"not ours")),  # no server port: left alone
    ]
    src = write(tmp_path / "src.pcap", pkts)
    size = src.stat().st_size
    n, copies = pcaptools.replicate(src, tmp_path / "x3.pcap", target_bytes=24 + 3 * (size - 24))
    assert (n, copies) == (12, 3)
    recs = list(pcaptools.iter_records(tmp_path / "x3.pcap"))
    shift = 2.0 + 1.0  # duration + 1 s
    for i, (_, rh, data) in enumerate(recs):
        k, j = divmod(i, 4)
        sec, usec = struct.unpack_from("<II", rh)
        assert sec + usec / 1e6 == pytest.approx(pkts[j][0] + k * shift)
        sp, dp = ports(data)
        osp, odp = ports(pkts[j][1])
        if j == 3:
            assert (sp, dp) == (osp, odp)
        elif odp in (80, 8080):
            assert (sp, dp) == (pcaptools.rotate_port(osp, k), odp)
        else:
            assert (sp, dp) == (osp, pcaptools.rotate_port(odp, k))
        assert data[54:] == pkts[j][1][54:]  # payload untouched
        assert pcaptools.tcp_checksum_ok(data) is (j != 2)  # valid stays valid, bad stays bad
    assert recs[0][0].linktype == 1


def test_replicate_cuts_the_last_copy_at_a_record_boundary(tmp_path: Path) -> None:
    src = CAPTURES / "sio-python-websocket-only.pcap"
    size = src.stat().st_size
    target = int(size * 2.5)
    n, copies = pcaptools.replicate(src, tmp_path / "x.pcap", target_bytes=target)
    assert copies == 3
    out = tmp_path / "x.pcap"
    assert out.stat().st_size <= target
    assert pcaptools.stats(out).packets == n
    base = pcaptools.stats(src)
    assert 2 * base.packets < n < 3 * base.packets


def test_replicate_makes_distinct_connections(tmp_path: Path) -> None:
    src = CAPTURES / "sio-python-polling-upgrade.pcap"
    out = tmp_path / "x.pcap"
    pcaptools.replicate(src, out, target_bytes=24 + 3 * (src.stat().st_size - 24), server_ports=frozenset())
    # with no server port known nothing is rotated: the same 4-tuples come back in every copy
    tuples = [ports(d) for _, _, d in pcaptools.iter_records(out)]
    third = len(tuples) // 3
    assert tuples[:third] == tuples[third : 2 * third]
    # the capture's own server port: every copy gets its own client ports
    server = {min(ports(d)) for _, _, d in pcaptools.iter_records(src)}
    pcaptools.replicate(
        src, out, target_bytes=24 + 3 * (src.stat().st_size - 24), server_ports=frozenset(server)
    )
    per_copy = [set(tuples_) for tuples_ in _split([ports(d) for _, _, d in pcaptools.iter_records(out)], 3)]
    assert (
        not (per_copy[0] & per_copy[1])
        and not (per_copy[1] & per_copy[2])
        and not (per_copy[0] & per_copy[2])
    )


def _split(items: list[tuple[int, int]], parts: int) -> list[list[tuple[int, int]]]:
    n = len(items) // parts
    return [items[i * n : (i + 1) * n] for i in range(parts)]


@settings(max_examples=150, deadline=None)
@given(
    client=st.integers(pcaptools.EPHEMERAL_LOW, pcaptools.EPHEMERAL_HIGH),
    server=st.sampled_from([80, 8080, 8088]),
    c2s=st.booleans(),
    payload=st.binary(max_size=300),
    seq=st.integers(0, 2**32 - 1),
    copies=st.integers(2, 5),
)
def test_replicated_checksums_stay_valid(
    client: int, server: int, c2s: bool, payload: bytes, seq: int, copies: int
) -> None:
    pkt = segment(client, server, payload, seq=seq) if c2s else segment(server, client, payload, seq=seq)
    assert pcaptools.tcp_checksum_ok(pkt) is True
    with tempfile.TemporaryDirectory() as d:
        src = write(Path(d) / "one.pcap", [(5.0, pkt)])
        out = Path(d) / "many.pcap"
        pcaptools.replicate(src, out, target_bytes=24 + copies * (src.stat().st_size - 24))
        recs = [data for _, _, data in pcaptools.iter_records(out)]
    assert len(recs) == copies
    for k, data in enumerate(recs):
        assert pcaptools.tcp_checksum_ok(data) is True
        expected = pcaptools.rotate_port(client, k)
        assert ports(data) == ((expected, server) if c2s else (server, expected))


def test_not_a_pcap_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.pcapng"
    bad.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 40)
    with pytest.raises(pcaptools.PcapFormatError):
        pcaptools.stats(bad)


def test_syn_server_ports(tmp_path: Path) -> None:
    # the bundled capture's server listens on 18002 (captures/make_captures.py)
    assert pcaptools.syn_server_ports(CAPTURES / "sio-python-polling-upgrade.pcap") == {18002}
    syn = bytearray(segment(40000, 8088))
    syn[14 + 20 + 13] = 0x02  # SYN alone
    synack = bytearray(segment(8088, 40000))
    synack[14 + 20 + 13] = 0x12
    p = write(tmp_path / "s.pcap", [(1.0, bytes(syn)), (1.1, bytes(synack)), (1.2, segment(40000, 8088))])
    assert pcaptools.syn_server_ports(p) == {8088}
