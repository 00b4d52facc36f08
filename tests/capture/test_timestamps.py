"""Packet times are integer nanoseconds from the readers to every duration (issue #16 item 19).

A float of an epoch time cannot hold a microsecond once a pcapng if_tsoffset of -2^62 s is
added: a 2 µs handshake came out as 512,000 ms. These captures are built from the same real
protocol bytes as tests/crafted_captures.py, written with raw timestamp ticks.
"""

from __future__ import annotations

import struct
from pathlib import Path

from analyzer import analyze_file
from analyzer.capture.pcapfile import open_capture
from analyzer.model.analysis import Analysis
from tests.crafted_captures import (
    CRAFTED,
    T0,
    Capture,
    Tcp,
    cframe,
    sframe,
    upgrade_request,
    upgrade_response,
)
from tests.pcapwriter import pcap_bytes, pcapng_bytes

OFFSET = -(2**62)  # if_tsoffset, seconds


def _ws_ping_capture() -> Capture:
    """A 2 µs handshake, an upgrade, and a Ping answered 3 µs later."""
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake(dt=0.000001)
    tcp.data("c", upgrade_request())
    tcp.data("s", upgrade_response())
    tcp.data("c", cframe(b"hb", opcode=9))
    tcp.data("s", sframe(b"hb", opcode=10), dt=0.000003)
    tcp.close()
    return cap


def _pcapng_with_offset(cap: Capture, offset: int, base_ticks: int) -> bytes:
    """The capture as µs ticks from `base_ticks`, on an interface whose if_tsoffset is `offset`."""
    pkts = [(0, base_ticks + round((ts - T0) * 1e6), data) for ts, data in cap.packets]
    return pcapng_bytes([(1, 6)], pkts, tsoffsets={0: offset}, extra_blocks=False)


def _analyze(tmp_path: Path, name: str, data: bytes) -> Analysis:
    path = tmp_path / name
    path.write_bytes(data)
    return analyze_file(str(path))


def _durations(a: Analysis) -> tuple[object, object, object, object]:
    (conn,) = a.connections
    hs = conn.tcp["handshake"]
    assert conn.websocket is not None
    (ping,) = conn.websocket.conversation["pings"]
    return hs["rtt_ms"], hs["syn_synack_ms"], hs["synack_ack_ms"], ping["rtt_ms"]


def test_a_huge_negative_tsoffset_keeps_microsecond_durations(tmp_path: Path) -> None:
    a = _analyze(tmp_path, "offset.pcapng", _pcapng_with_offset(_ws_ping_capture(), OFFSET, 10**12))
    # before: every time was the same float (-4.6e18 s, 1024 s apart) and the RTTs 0 or 512,000 ms
    assert _durations(a) == (0.002, 0.001, 0.001, 0.003)
    assert not {x.code for x in a.anomalies} & {"capture.time-backwards", "ws.ping-unanswered"}


def test_the_same_capture_without_offset_gives_the_same_durations(tmp_path: Path) -> None:
    cap = _ws_ping_capture()
    plain = _analyze(tmp_path, "plain.pcap", cap.pcap())
    shifted = _analyze(tmp_path, "shifted.pcapng", _pcapng_with_offset(cap, 0, round(T0 * 1e6)))
    assert _durations(plain) == _durations(shifted) == (0.002, 0.001, 0.001, 0.003)


def test_huge_ticks_keep_nanoseconds(tmp_path: Path) -> None:
    """Ticks near 2^64 of a nanosecond interface (a float holds 53 bits of them)."""
    base = (1 << 64) - 10**9
    cap = _ws_ping_capture()
    pkts = [(0, base + round((ts - T0) * 1e6) * 1000, data) for ts, data in cap.packets]
    a = _analyze(tmp_path, "ticks.pcapng", pcapng_bytes([(1, 9)], pkts, extra_blocks=False))
    assert _durations(a) == (0.002, 0.001, 0.001, 0.003)


def test_readers_give_exact_nanoseconds(tmp_path: Path) -> None:
    data = b"\x45" + b"\x00" * 19
    f = tmp_path / "res.pcapng"
    # 2^-20 s ticks (binary if_tsresol), 10^-12 s ticks, and µs ticks with an offset
    f.write_bytes(
        pcapng_bytes(
            [(101, 0x80 | 20), (101, 12), (101, None)],
            [(0, 3 << 20 | 1, data), (1, 1_500_000_000_123_456_789, data), (2, 7, data)],
            tsoffsets={2: OFFSET},
        )
    )
    got = [(p.ts_ns, p.ts) for p in open_capture(str(f))]
    assert got[0] == (3 * 10**9 + (10**9 >> 20), (3 << 20 | 1) * 2.0**-20)
    assert got[1][0] == 1_500_000_000_123_456_789 // 1000  # 10^-12 s ticks, rounded down to ns
    assert got[2] == (OFFSET * 10**9 + 7000, 7 * 1e-6 + float(OFFSET))
    p = tmp_path / "ns.pcap"
    head = pcap_bytes([], linktype=101, nanos=True)
    p.write_bytes(head + struct.pack("<IIII", 1_700_000_000, 123_456_789, len(data), len(data)) + data)
    (pkt,) = open_capture(str(p))
    assert (pkt.ts_ns, pkt.ts) == (1_700_000_000_123_456_789, 1_700_000_000 + 123_456_789 * 1e-9)


def test_time_running_backwards_is_flagged_once(tmp_path: Path) -> None:
    a = _analyze(tmp_path, "back.pcap", CRAFTED["capture-time-backwards"].build())
    found = [x for x in a.anomalies if x.code == "capture.time-backwards"]
    assert len(found) == 1
    assert found[0].frames == (3,)
    assert found[0].message.startswith("2 packets are timestamped earlier than the packet before them")
    assert "499.000 ms" in found[0].message  # the longest step back


def test_an_ordered_capture_is_not_flagged(tmp_path: Path) -> None:
    a = _analyze(tmp_path, "fwd.pcap", _ws_ping_capture().pcap())
    assert "capture.time-backwards" not in {x.code for x in a.anomalies}
