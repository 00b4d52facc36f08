"""Per-direction TCP reassembly (RFC 9293 §3.4, §3.10.7.4).

Sequence numbers are unwrapped into 64-bit stream offsets (offset 0 = the first byte
after the SYN, or the first byte seen when the capture starts mid-connection).
In-order data goes straight to the sink; out-of-order segments wait in a bounded
buffer; bytes that were never captured become a gap, never zero-fill.

Overlaps: the first copy of a byte wins, on both paths. A byte already delivered cannot be
taken back, and a byte waiting in the out-of-order buffer is kept the same way: a later
segment that covers it only adds the bytes nobody sent before. Where the copies differ,
`tcp.overlap-mismatch` says so. This is Wireshark's choice (its reassembly keeps the first
data of an overlap and reports conflicting data), so tshark, the oracle, reads the same
stream; Suricata makes the policy per target OS (`host-os-policy`), with "first" as one
choice and "bsd" as the default. A passive analyzer does not know the receiver's OS, and
the receiver most often got the first copy: first-wins is the one policy that can hold for
data already handed to the parsers as well as for data still waiting.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from analyzer.model.common import Direction
from analyzer.tcp.offsets import OffsetMap

__all__ = [
    "MAX_LISTED_RETRANSMISSIONS",
    "MAX_OOO_BYTES",
    "MAX_OOO_SEGMENTS",
    "DirectionStream",
    "StreamSink",
]

MAX_OOO_BYTES = 4 << 20
MAX_OOO_SEGMENTS = 2048
HISTORY = 1 << 16  # bytes kept to compare retransmitted data with the first copy
# packet numbers listed in a direction's tcp.retransmission record (every one is counted)
MAX_LISTED_RETRANSMISSIONS = 100


class StreamSink(Protocol):
    def on_data(self, stream: DirectionStream, offset: int, data: bytes, frame: int, ts: float) -> None: ...
    def on_gap(self, stream: DirectionStream, offset: int, length: int, frame: int, ts: float) -> None: ...
    def on_end(self, stream: DirectionStream, offset: int, frame: int, ts: float) -> None: ...


class DiscardSink:
    """The sink of a stream before its owner names one: it keeps nothing."""

    def on_data(self, stream: DirectionStream, offset: int, data: bytes, frame: int, ts: float) -> None:
        pass

    def on_gap(self, stream: DirectionStream, offset: int, length: int, frame: int, ts: float) -> None:
        pass

    def on_end(self, stream: DirectionStream, offset: int, frame: int, ts: float) -> None:
        pass


DISCARD = DiscardSink()


class DirectionStream:
    """One direction of a connection: unwrapping, ordering, duplicates, gaps, FIN."""

    __slots__ = (
        "anomalies",
        "bytes",
        "data_after_fin",
        "direction",
        "ended",
        "fin_frame",
        "fin_offset",
        "fin_ts",
        "gap_bytes",
        "gaps",
        "history",
        "history_start",
        "isn",
        "keepalives",
        "next",
        "offsets",
        "ooo",
        "ooo_bytes",
        "overlap_mismatches",
        "owner",
        "retransmissions",
        "retx_behind",
        "retx_control",
        "retx_frames",
        "retx_repeated",
        "sink",
        "top",
        "zero_window_probes",
    )
    __deletable__ = ("sink",)  # the pipeline deletes it to break a cycle (compiled: mypyc wants this)

    def __init__(self, direction: Direction, sink: StreamSink) -> None:
        self.direction = direction
        self.sink = sink
        self.isn: int | None = None  # sequence number of stream offset 0
        self.next = 0  # offset of the next byte expected
        self.ooo: dict[int, tuple[bytes, int, float, int]] = {}
        self.ooo_bytes = 0
        # the last delivered segments, by reference (no copy): retransmissions are compared with them
        self.history: deque[tuple[int, bytes]] = deque()
        self.history_start = 0  # bytes held in `history`
        self.fin_offset: int | None = None
        self.fin_frame = 0  # packet and time of the FIN that set fin_offset
        self.fin_ts = 0.0
        self.ended = False
        self.offsets = OffsetMap()
        # Retransmissions, as tshark's tcp.analysis.retransmission (see `segment`): every segment
        # with data, SYN or FIN that starts below `top`, the highest sequence offset seen so far
        self.top = 0
        self.retransmissions = 0
        self.retx_repeated = 0  # carried bytes already received
        self.retx_behind = 0  # started behind later data: filled (part of) a hole
        self.retx_control = 0  # a SYN, SYN-ACK or FIN sent again (no data)
        self.retx_frames: list[int] = []  # the first MAX_LISTED_RETRANSMISSIONS of them
        self.keepalives = 0
        self.zero_window_probes = 0
        self.gaps = 0
        self.gap_bytes = 0
        self.overlap_mismatches = 0
        self.data_after_fin = 0
        self.anomalies: list[tuple[str, str, int]] = []  # (code, message, frame)
        self.bytes = 0  # stream bytes delivered
        self.owner: object = None  # the TcpConnection this direction belongs to

    def set_isn(self, first_data_seq: int) -> None:
        self.isn = first_data_seq & 0xFFFFFFFF

    def offset_of(self, seq: int) -> int:
        """Unwrap a 32-bit sequence number to the stream offset nearest to `next` (mod 2^32 arithmetic)."""
        assert self.isn is not None
        d = (seq - self.isn - self.next) & 0xFFFFFFFF
        if d >= 0x80000000:
            d -= 0x100000000
        return self.next + d

    def segment(
        self, seq: int, payload: bytes, fin: bool, frame: int, ts: float, ts_ns: int, missing: int = 0
    ) -> None:
        """One segment's data (seq = sequence number of its first data byte) and FIN flag, from
        packet `frame` of time `ts` (seconds) = `ts_ns` (integer nanoseconds).

        A segment with data or FIN that starts below the highest sequence offset seen so far in
        this direction (`top`) is a retransmission, as tshark's `tcp.analysis.retransmission`
        (which includes its spurious and fast retransmissions): it repeats bytes already received,
        or it fills a hole behind later data -- a segment lost before the capture point and sent
        again. tshark calls the second kind `out-of-order` instead when it comes within the
        handshake RTT (3 ms without one) of the highest segment; socketscope does not guess from
        timing. A keep-alive (one byte at top - 1, RFC 9293 §3.8.4) is not a retransmission."""
        isn = self.isn
        if isn is None:
            self.set_isn(seq)
            isn = seq & 0xFFFFFFFF
        # offset_of(), inlined: unwrap mod 2^32 to the offset nearest to `next` (RFC 9293 §3.4)
        d = (seq - isn - self.next) & 0xFFFFFFFF
        start = self.next + (d - 0x100000000 if d >= 0x80000000 else d)
        n = len(payload)
        if n:
            if self.fin_offset is not None and start + n > self.fin_offset:
                self.data_after_fin += 1
                self._anomaly("tcp.data-after-fin", "data past this direction's FIN", frame)
            end = start + n
            nxt = self.next
            if start < self.top:
                if n == 1 and start == self.top - 1 and not fin:
                    self.keepalives += 1  # its byte, if any, is junk (RFC 9293 §3.8.4)
                    return
                self._retransmitted(frame, start < nxt or start in self.ooo)
            if end + missing > self.top:
                self.top = end + missing
            if start == nxt and not self.ooo:
                self._deliver(start, payload, frame, ts, ts_ns)
                if missing:
                    self._gap(missing, frame, ts, snaplen=True)
            elif end <= nxt:
                self._compare(start, payload, frame)
            elif start < nxt:
                # §3.10.7.4: part old, part new -- only the new part is processed
                self._compare(start, payload[: nxt - start], frame)
                self._hold(nxt, payload[nxt - start :], frame, ts, ts_ns)
            elif start == nxt:
                # bytes already waiting behind the hole this segment fills keep their first copy
                self._hold(start, payload, frame, ts, ts_ns)
                if missing and self.next == end:  # nothing waited right behind the cut bytes
                    self._gap(missing, frame, ts, snaplen=True)
                    if self.ooo:
                        self._drain()
            else:
                self._hold(start, payload, frame, ts, ts_ns)
        if fin:
            if not n and start < self.top:
                self.control_retransmission(frame)  # a FIN sent again
            if start + n + 1 > self.top:
                self.top = start + n + 1  # the FIN takes one sequence number
            if self.fin_offset is None:
                self.fin_offset = start + n
                self.fin_frame, self.fin_ts = frame, ts
        # RFC 9293 §3.10.7.4: the FIN is processed once every byte before it is in, which may be
        # this segment's FIN or, for a FIN that came ahead of a hole, the data that fills the hole
        fin_offset = self.fin_offset
        if fin_offset is not None and self.next >= fin_offset and not self.ended:
            self._end()

    def _retransmitted(self, frame: int, repeated: bool) -> None:
        self.retransmissions += 1
        if repeated:
            self.retx_repeated += 1
        else:
            self.retx_behind += 1
        if len(self.retx_frames) < MAX_LISTED_RETRANSMISSIONS:
            self.retx_frames.append(frame)

    def control_retransmission(self, frame: int) -> None:
        """A SYN, SYN-ACK or FIN without data sent again (its sequence number was seen before)."""
        self.retransmissions += 1
        self.retx_control += 1
        if len(self.retx_frames) < MAX_LISTED_RETRANSMISSIONS:
            self.retx_frames.append(frame)

    def retransmission_summary(self) -> str:
        """The message of this direction's tcp.retransmission record."""
        n = self.retransmissions
        parts = []
        if self.retx_repeated:
            parts.append(f"{self.retx_repeated} with bytes already received")
        if self.retx_behind:
            parts.append(
                f"{self.retx_behind} into a hole behind later data (lost before the capture point, "
                "or reordered)"
            )
        if self.retx_control:
            parts.append(f"{self.retx_control} SYN, SYN-ACK or FIN sent again")
        listed = "" if n <= MAX_LISTED_RETRANSMISSIONS else f"; the first {MAX_LISTED_RETRANSMISSIONS} listed"
        return f"{n} segment{'s' if n != 1 else ''} retransmitted: {', '.join(parts)}{listed}"

    def _deliver(self, start: int, data: bytes, frame: int, ts: float, ts_ns: int) -> None:
        self.offsets.add(start, frame, ts, ts_ns)
        self.next = start + len(data)
        self.bytes += len(data)
        h = self.history
        h.append((start, data))
        self.history_start += len(data)
        while self.history_start - len(h[0][1]) >= HISTORY:
            self.history_start -= len(h.popleft()[1])
        self.sink.on_data(self, start, data, frame, ts)

    def _compare(self, start: int, data: bytes, frame: int) -> None:
        """Overlapping bytes that differ from the first copy are flagged (T1)."""
        end = start + len(data)
        for hs, old in reversed(self.history):  # newest first: retransmissions are usually recent
            if hs + len(old) <= start:
                return
            a = max(start, hs)
            b = min(end, hs + len(old))
            if a < b and old[a - hs : b - hs] != data[a - start : b - start]:
                self.overlap_mismatches += 1
                self._anomaly("tcp.overlap-mismatch", f"retransmitted bytes at offset {a} differ", frame)
                return

    def _hold(self, start: int, payload: bytes, frame: int, ts: float, ts_ns: int) -> None:
        """Queue bytes at or past `next` (they are delivered from the queue once in order). Bytes
        already waiting win (first copy, see the module docstring): only the parts of `payload`
        that no waiting segment covers are queued, and a covered part that differs is flagged.
        Waiting segments never overlap one another."""
        end = start + len(payload)
        pieces: list[tuple[int, int]] = []  # [a, b) of payload not yet waiting
        at = start
        for qs in sorted(k for k, v in self.ooo.items() if k < end and k + len(v[0]) > start):
            old = self.ooo[qs][0]
            if qs > at:
                pieces.append((at, qs))
            a, b = max(qs, start), min(qs + len(old), end)
            if old[a - qs : b - qs] != payload[a - start : b - start]:
                self.overlap_mismatches += 1
                self._anomaly("tcp.overlap-mismatch", f"retransmitted bytes at offset {a} differ", frame)
            at = max(at, b)
        if at < end:
            pieces.append((at, end))
        for a, b in pieces:
            piece = payload if (a, b) == (start, end) else payload[a - start : b - start]
            self.ooo[a] = (piece, frame, ts, ts_ns)
            self.ooo_bytes += b - a
        if self.ooo and min(self.ooo) <= self.next:
            self._drain()
        if self.ooo_bytes > MAX_OOO_BYTES or len(self.ooo) > MAX_OOO_SEGMENTS:
            self._anomaly("tcp.out-of-order-overflow", "out-of-order buffer full: hole declared lost", frame)
            self.flush_hole(frame, ts)

    def _drain(self) -> None:
        ooo = self.ooo
        while ooo:
            first = min(ooo)
            if first > self.next:
                return
            data, frame, ts, ts_ns = ooo.pop(first)
            self.ooo_bytes -= len(data)
            end = first + len(data)
            if end <= self.next:
                self._compare(first, data, frame)
                continue
            if first < self.next:
                self._compare(first, data[: self.next - first], frame)
            self._deliver(self.next, data[self.next - first :], frame, ts, ts_ns)
        if self.fin_offset is not None and self.next >= self.fin_offset and not self.ended:
            self._end()

    def _end(self) -> None:
        """Every byte up to the FIN is in: the direction ends, at the packet that carried the FIN
        (not a placeholder frame 0: records point to real packets)."""
        assert self.fin_offset is not None
        self.ended = True
        self.sink.on_end(self, self.fin_offset, self.fin_frame, self.fin_ts)

    def _gap(self, length: int, frame: int, ts: float, snaplen: bool = False) -> None:
        self.gaps += 1
        self.gap_bytes += length
        what = "cut by the snapshot length" if snaplen else "never captured"
        self._anomaly("tcp.gap", f"{length} bytes at offset {self.next} {what}", frame)
        off = self.next
        self.next += length
        self.sink.on_gap(self, off, length, frame, ts)

    def acked(self, ack: int, frame: int, ts: float) -> None:
        """The peer acknowledged every byte before sequence number `ack` (RFC 9293 §3.4). Bytes of
        a hole below it reached the peer, so they were sent and are missing from the capture
        only: no retransmission will fill them. The hole is reported now, and what waited behind
        it delivered, instead of when the out-of-order buffer fills or the connection ends."""
        if not self.ooo or self.isn is None:
            return
        upto = self.offset_of(ack)
        while self.ooo and upto > self.next:
            first = min(self.ooo)
            if first > self.next:
                self._gap(min(first, upto) - self.next, frame, ts)
            self._drain()

    def flush_hole(self, frame: int, ts: float) -> None:
        """Give up waiting for the first hole: report it as a gap and deliver what follows."""
        if not self.ooo:
            return
        first = min(self.ooo)
        if first > self.next:
            self._gap(first - self.next, frame, ts)
        self._drain()

    def finish(self, frame: int, ts: float) -> None:
        """End of capture or connection: every remaining hole becomes a gap."""
        while self.ooo:
            self.flush_hole(frame, ts)
        if self.fin_offset is not None and self.next < self.fin_offset and not self.ended:
            self._gap(self.fin_offset - self.next, frame, ts)
            self._end()

    def _anomaly(self, code: str, message: str, frame: int) -> None:
        if len(self.anomalies) < 1000:
            self.anomalies.append((code, message, frame))
