"""The common packet, handled in one flat loop: Ethernet + IPv4 without options + TCP, on an
established connection whose roles are known, without SYN/FIN/RST, MSS option or snaplen cut.

In real captures most packets are like this (the benchmark capture: all but the handshakes and
teardowns), and for them the general path (RawPacket -> PacketDecoder.decode -> Segment ->
ConnectionTracker.handle -> _segment -> DirectionStream.segment) costs a Python call and an
object per layer. Here the same state changes are made inline: the decoder's counters, the
capture summary, the tracker's per-direction counters and lingering, then the stream. Every
other packet goes through `Pipeline.feed` unchanged. tests/tcp/test_fastpath.py checks that the
analysis is the same with and without this loop on every capture at hand.

The TCP header's fields are read by indexing the packet's bytes, which the compiled build does on
native ints (a struct tuple would be `Any`); the sequence and acknowledgment numbers only when
they are used (`_u32`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from analyzer.capture.pcapfile import RawPacket
from analyzer.tcp import tracker as tcp_tracker

if TYPE_CHECKING:
    from collections import deque

    from analyzer.model.analysis import CaptureInfo
    from analyzer.pipeline.clock import CaptureClock
    from analyzer.pipeline.wiring import Pipeline
    from analyzer.tcp.tracker import ConnKey, TcpConnection

    _Locals = tuple[
        CaptureInfo,
        dict[ConnKey, TcpConnection],
        deque[TcpConnection],
        Callable[[int, int], None],
        set[int],
        int,
        int,
        int,
        CaptureClock,
    ]

__all__ = ["feed_fast"]

_IPV4_ETH = b"\x08\x00"
_SYN_FIN_RST = 0x07  # RFC 9293 §3.1 control bits that change the connection's state
_ACK = 0x10
_MSS = b"\x02\x04"  # MSS option kind/length: flagged on a non-SYN segment by the general path
PROGRESS_EVERY = 0x4000


def feed_fast(
    pipe: Pipeline, packets: Iterable[RawPacket], progress: Callable[[int], None] | None = None
) -> None:
    cap, active, linger, expire, linktypes, flush_every, linger_packets, linger_ns, clock = _state(pipe)
    eth_seen = 1 in linktypes  # the general path records a link type the first time it sees it
    last_ns = clock.last_ns  # CaptureClock.tick, inlined
    # counters kept in locals and added to their objects at the end (or before a slow packet)
    n_pkts = n_bytes = n_tcp = n_payload = n_hdr = count = 0
    try:
        for pkt in packets:
            count += 1
            if progress is not None and not count % PROGRESS_EVERY:
                progress(count)
            if (ts_ns := pkt.ts_ns) < last_ns:
                clock.back(pkt.frame, last_ns - ts_ns)
            last_ns = ts_ns
            n = len(data := pkt.data)
            slow_packet = True  # unless: Ethernet II + IPv4 with a 20-byte header (IHL 5), RFC 791 §3.1; TCP
            if (
                pkt.linktype == 1
                and n >= 54
                and eth_seen
                and data[12:14] == _IPV4_ETH
                and data[14] == 0x45
                and data[23] == 6
                and not (data[20] & 0x3F) | data[21]  # MF flag or fragment offset
                and pkt.orig_len <= n
            ):
                total = (data[16] << 8) | data[17]
                end = 14 + total if total else n  # total 0: TSO on the capturing host
                if (not total or total >= 40) and end <= n:
                    sport, dport = (data[34] << 8) | data[35], (data[36] << 8) | data[37]  # RFC 9293 §3.1
                    flags, thl = data[47], (data[46] >> 4) * 4
                    if not flags & _SYN_FIN_RST and thl >= 20 and 34 + thl <= end:
                        # ConnectionTracker.handle: expire before the lookup (expire's first test inlined)
                        if linger and (
                            pkt.frame - linger[0].last_frame >= linger_packets
                            or ts_ns - linger[0].last_ns >= linger_ns
                        ):
                            expire(pkt.frame, ts_ns)
                        conn = active.get((src := data[26:30], sport, data[30:34], dport))
                        slow_packet = (
                            conn is None
                            or conn.hs_ack is None
                            or (thl > 20 and _MSS in data[54 : 34 + thl])
                            or (not conn.roles_known and end > 34 + thl)
                        )
            if slow_packet:
                if n_pkts:  # the general path may read the counters: bring them up to date first
                    _add_counts(pipe, n_pkts, n_bytes, n_tcp, n_payload, n_hdr)
                    n_pkts = n_bytes = n_tcp = n_payload = n_hdr = 0
                clock.last_ns = ts_ns  # Pipeline.feed ticks the clock again: the same time
                pipe.feed(pkt)
                eth_seen = 1 in linktypes
                continue
            assert conn is not None
            frame, ts = pkt.frame, pkt.ts
            n_pkts, n_bytes, n_tcp, n_hdr = n_pkts + 1, n_bytes + n, n_tcp + 1, n_hdr + thl  # feed, decode
            cap.last_ts = ts
            payload = data[34 + thl : end]
            n_payload += len(payload)
            c2s = src == conn.client[0] and sport == conn.client[1]
            i = 0 if c2s else 1
            conn.packets[i] += 1
            conn.payload_bytes[i] += len(payload)
            conn.last_ts, conn.last_ns, conn.last_frame = ts, ts_ns, frame
            if flags & _ACK:  # ConnectionTracker._segment: a hole the peer acknowledged is lost
                other = conn.s2c if c2s else conn.c2s
                if other.ooo:
                    other.acked(_u32(data, 42), frame, ts)
            if payload:  # ConnectionTracker.handle / _segment: the stream
                (conn.c2s if c2s else conn.s2c).segment(_u32(data, 38), payload, False, frame, ts, ts_ns, 0)
            if not conn.lingering and (conn.rst_frame is not None or (conn.c2s.ended and conn.s2c.ended)):
                conn.lingering = True
                linger.append(conn)
            if flush_every and not (cap.packets + n_pkts) % flush_every:
                pipe.flush_sessions(ts)
    finally:
        clock.last_ns = last_ns
        _add_counts(pipe, n_pkts, n_bytes, n_tcp, n_payload, n_hdr)


def _u32(data: bytes, at: int) -> int:
    """The 32-bit big-endian number at `at` (sequence and acknowledgment numbers, RFC 9293 §3.1)."""
    return (data[at] << 24) | (data[at + 1] << 16) | (data[at + 2] << 8) | data[at + 3]


def _state(pipe: Pipeline) -> _Locals:
    """What the loop reads of the pipeline, as locals."""
    tracker = pipe.tracker
    return (
        pipe.capture,
        tracker.active,
        tracker.linger,
        tracker.expire,
        pipe.linktypes,
        pipe.flush_every,
        tcp_tracker.LINGER_PACKETS,
        tcp_tracker.LINGER_NS,
        pipe.clock,
    )


def _add_counts(pipe: Pipeline, packets: int, nbytes: int, tcp: int, payload: int, tcp_headers: int) -> None:
    """What PacketDecoder.decode and Pipeline.feed count, for `packets` Ethernet/IPv4/TCP packets."""
    st = pipe.decoder.stats
    st.packets += packets
    st.ipv4 += packets
    st.tcp_packets += tcp
    st.bytes += nbytes
    st.tcp_payload_bytes += payload
    st.link_header_bytes += 14 * packets
    st.ip_header_bytes += 20 * packets
    st.tcp_header_bytes += tcp_headers
    pipe.capture.packets += packets
    pipe.capture.bytes += nbytes
