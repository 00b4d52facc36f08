"""The TLS step of a connection: each direction's ciphertext becomes plaintext for the layers above.

`TlsStep` runs the sans-IO TlsConnection (analyzer/protocols/tls) for one ConnectionApp. The
plaintext of a direction is a stream of its own, with its own offsets; `PlainOffsets` maps them
to the TCP stream offsets of the records that carried them, so a WebSocket frame or an HTTP
request inside TLS names the packets of its records (the packet with a record's last byte is
where its plaintext became readable, as Wireshark shows it). Verdicts of the TLS layer become
anomalies on the packets of their record; the `tls` object of the connection record is filled
at the end. No secret passes through here: the key log goes straight to the TLS layer.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING

from analyzer.model.codes.tls import TLS_KEYLOG_BAD_LINE
from analyzer.model.common import Anomaly, Direction
from analyzer.model.registry import make_anomaly
from analyzer.model.tls import TlsInfo
from analyzer.protocols.tls import KeyLog, TlsConnection, TlsData, TlsEvent, TlsLost
from analyzer.protocols.tls.keylog import MAX_BAD_LINES

if TYPE_CHECKING:
    from analyzer.tcp.offsets import OffsetMap
    from analyzer.tcp.tracker import TcpConnection

__all__ = ["PlainOffsets", "TlsStep", "keylog_anomalies"]

Deliver = Callable[[Direction, int, bytes, int, float], None]  # direction, offset, data, frame, ts
Lose = Callable[[Direction, int, int, int, float], None]  # direction, offset, length, frame, ts
Report = Callable[[str, str, Direction | None, tuple[int, ...]], None]  # code, message, direction, frames


class PlainOffsets:
    """Plaintext offsets of one direction -> the TCP offsets of the record that carried them.
    Answers like the TCP OffsetMap (frame_at, ts_at, ns_at, frames_between)."""

    __slots__ = ("_ends", "_plain", "_starts", "_tcp")

    def __init__(self, tcp: OffsetMap) -> None:
        self._tcp = tcp
        self._plain = array("q")  # plaintext offset of each record's first byte
        self._starts = array("q")  # TCP offsets of the record
        self._ends = array("q")

    def add(self, plain: int, start: int, end: int) -> None:
        self._plain.append(plain)
        self._starts.append(start)
        self._ends.append(end)

    def _index(self, offset: int) -> int:
        return max(bisect_right(self._plain, offset) - 1, 0)

    def frame_at(self, offset: int) -> int:
        if not self._plain:
            return 0
        return self._tcp.frame_at(self._ends[self._index(offset)] - 1)

    def ts_at(self, offset: int) -> float:
        if not self._plain:
            return 0.0
        return self._tcp.ts_at(self._ends[self._index(offset)] - 1)

    def ns_at(self, offset: int) -> int:
        if not self._plain:
            return 0
        return self._tcp.ns_at(self._ends[self._index(offset)] - 1)

    def frames_between(self, start: int, end: int) -> tuple[int, ...]:
        if not self._plain or end <= start:
            return ()
        return self._tcp.frames_between(self._starts[self._index(start)], self._ends[self._index(end - 1)])


class TlsStep:
    """Feeds a connection's TLS records through the TLS layer and hands the plaintext on."""

    def __init__(
        self, conn: TcpConnection, keys: KeyLog | None, deliver: Deliver, lose: Lose, report: Report
    ) -> None:
        self.conn = conn
        # the TCP offset where a direction's TLS begins: after a SOCKS or PROXY protocol handshake
        # (protocols/proxy.py), whose bytes the TLS layer never sees. Taken from the TCP stream
        # when the direction's first TLS bytes (or its first gap) arrive: the stream's `next` is
        # then the end of those bytes
        self._starts: dict[Direction, int] = {}
        self.session = TlsConnection(keys)
        self.offsets = {
            Direction.C2S: PlainOffsets(conn.c2s.offsets),
            Direction.S2C: PlainOffsets(conn.s2c.offsets),
        }
        self.next = {Direction.C2S: 0, Direction.S2C: 0}  # plaintext offset of the next byte
        self._deliver = deliver
        self._lose = lose
        self._report = report
        self._ended: set[Direction] = set()

    def _tcp(self, d: Direction) -> OffsetMap:
        return (self.conn.c2s if d is Direction.C2S else self.conn.s2c).offsets

    def _base(self, d: Direction) -> int:
        return self._starts.get(d, 0)

    def _start(self, d: Direction, length: int) -> None:
        """The first `length` bytes of the direction's TLS have just been delivered."""
        if d not in self._starts:
            stream = self.conn.c2s if d is Direction.C2S else self.conn.s2c
            self._starts[d] = max(stream.next - length, 0)

    def _events(self, events: list[TlsEvent]) -> None:
        for ev in events:
            if isinstance(ev, TlsData | TlsLost):
                d = ev.direction
                om = self._tcp(d)
                base = self._base(d)
                start, end = ev.start + base, ev.end + base
                frame, ts = om.frame_at(end - 1), om.ts_at(end - 1)
                at = self.next[d]
                self.offsets[d].add(at, start, end)
                if isinstance(ev, TlsData):
                    self.next[d] = at + len(ev.data)
                    self._deliver(d, at, ev.data, frame, ts)
                else:
                    self.next[d] = at + ev.length
                    self._lose(d, at, ev.length, frame, ts)
            else:
                frames: tuple[int, ...] = ()
                if ev.direction is not None and ev.end > ev.start:
                    frame = self._tcp(ev.direction).frame_at(ev.end - 1 + self._base(ev.direction))
                    frames = (frame,) if frame else ()
                self._report(ev.code, ev.message, ev.direction, frames)

    def data(self, d: Direction, data: bytes) -> None:
        self._start(d, len(data))
        self._events(self.session.feed(d, data))

    def gap(self, d: Direction, length: int) -> None:
        self._start(d, length)
        self._events(self.session.gap(d, length))

    def end(self, d: Direction) -> None:
        if d not in self._ended:
            self._ended.add(d)
            self._events(self.session.eof(d))

    def finish(self) -> TlsInfo:
        """The connection is over: the directions still open end here; the `tls` object."""
        for d in (Direction.C2S, Direction.S2C):
            self.end(d)
        self._events(self.session.finish())
        info = self.session.info
        for alert in info.alerts:
            d = Direction.C2S if alert.direction == "c2s" else Direction.S2C
            alert.frame = self._tcp(d).frame_at(alert.end - 1 + self._base(d))
        return info


def keylog_anomalies(keys: KeyLog | None) -> list[Anomaly]:
    """tls.keylog-bad-line for each bad line listed, and one for the rest (never the line itself)."""
    if keys is None:
        return []
    out = [
        make_anomaly(TLS_KEYLOG_BAD_LINE, f"key log {bad.source}, line {bad.line}: {bad.reason}; skipped")
        for bad in keys.bad_lines
    ]
    if keys.bad_count > len(keys.bad_lines):
        more = keys.bad_count - len(keys.bad_lines)
        out.append(
            make_anomaly(
                TLS_KEYLOG_BAD_LINE, f"{more} more bad key-log lines (the first {MAX_BAD_LINES} listed)"
            )
        )
    return out
