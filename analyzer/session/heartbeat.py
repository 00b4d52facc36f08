"""Engine.IO heartbeat: observed pings and pongs against the open packet's figures (G4, G5).

EIO v4 'Heartbeat': the server sends `2` every pingInterval and the client answers `3`
within pingTimeout. EIO v3 'Timeouts': the client pings and the server answers. The
upgrade probes (`2probe` / `3probe`) are not heartbeats and are skipped here.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzer.model.codes import engineio as codes
from analyzer.model.common import Anomaly, Direction
from analyzer.model.engineio import EioPacketType
from analyzer.model.registry import make_anomaly
from analyzer.model.session import EioPacketRecord, HeartbeatPair, HeartbeatStats
from analyzer.model.times import ns_of, span_ms

__all__ = ["analyze_heartbeat"]

_MAX_REPORTS = 100  # per code and session; the stats still count everything
# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_PING, _PONG = EioPacketType.PING, EioPacketType.PONG
_PING_PONG = (_PING, _PONG)
_NS_PER_MS = 1_000_000


class _Reports:
    """Anomalies of one session, at most _MAX_REPORTS per code, the rest counted."""

    def __init__(self) -> None:
        self.anomalies: list[Anomaly] = []
        self.counts: dict[str, int] = {}

    def report(self, code: str, message: str, rec: EioPacketRecord) -> None:
        n = self.counts.get(code, 0)
        self.counts[code] = n + 1
        if n < _MAX_REPORTS:
            self.anomalies.append(make_anomaly(code, message, rec.connection, rec.direction, (rec.frame,)))

    def finish(self, records: Sequence[EioPacketRecord]) -> list[Anomaly]:
        for code, n in self.counts.items():
            if n > _MAX_REPORTS and records:
                last = records[-1]
                msg = f"{n - _MAX_REPORTS} more {code} anomalies in this session not listed"
                self.anomalies.append(make_anomaly(code, msg, last.connection, None, (last.frame,)))
        return self.anomalies


class _Pairing:
    """Pings and pongs of one session as they come, in capture order; every interval in integer
    nanoseconds (the records' `ts_ns`), milliseconds only when written."""

    def __init__(
        self, version: int, ping_interval_ms: int | None, ping_timeout_ms: int | None, start_ns: int | None
    ) -> None:
        self.version = version
        self.pinger = Direction.S2C if version >= 4 else Direction.C2S
        self.interval_ms, self.timeout_ms = ping_interval_ms, ping_timeout_ms
        self.timeout_ns = ping_timeout_ms * _NS_PER_MS if ping_timeout_ms is not None else None
        self.gap_limit_ns = (
            (ping_interval_ms + ping_timeout_ms) * _NS_PER_MS
            if ping_interval_ms is not None and ping_timeout_ms is not None
            else None
        )
        self.reports = _Reports()
        self.pings = self.pongs = self.unanswered = self.unsolicited = self.late = 0
        self.rtts: list[float] = []
        self.pairs: list[HeartbeatPair] = []
        self.gaps: list[float] = []
        self.outstanding: EioPacketRecord | None = None
        self.outstanding_ns = 0
        self.last_ping_ns = start_ns if version >= 4 else None

    def ping(self, rec: EioPacketRecord) -> None:
        report = self.reports.report
        if rec.direction is not self.pinger:
            # G4: v4 clients do not ping (only 2probe); v3 servers do not
            who = "client" if rec.direction is Direction.C2S else "server"
            report(codes.UNEXPECTED_PING, f"ping from the {who} in Engine.IO v{self.version}", rec)
            return
        self.pings += 1
        now = ns_of(rec.ts, rec.ts_ns)
        outstanding = self.outstanding
        if outstanding is not None:
            self.unanswered += 1
            if self.timeout_ns is not None and now - self.outstanding_ns > self.timeout_ns:
                msg = f"ping not answered within pingTimeout {self.timeout_ms} ms, next ping came (G5)"
                report(codes.PING_TIMEOUT, msg, outstanding)
        if self.last_ping_ns is not None:
            gap = now - self.last_ping_ns
            if self.pings > 1:
                self.gaps.append(round(span_ms(0, gap), 3))
            if self.gap_limit_ns is not None and gap > self.gap_limit_ns:
                # G5 (v4): the client "SHOULD" give up after pingInterval + pingTimeout
                msg = (
                    f"{span_ms(0, gap):.0f} ms without a ping, more than pingInterval + pingTimeout "
                    f"({self.interval_ms} + {self.timeout_ms} ms)"
                )
                report(codes.PING_INTERVAL_EXCEEDED, msg, rec)
        self.last_ping_ns = now
        self.outstanding = rec
        self.outstanding_ns = now

    def pong(self, rec: EioPacketRecord) -> None:
        if rec.direction is self.pinger:
            who = "server" if rec.direction is Direction.S2C else "client"
            self.reports.report(
                codes.UNEXPECTED_PONG, f"pong from the {who} in Engine.IO v{self.version}", rec
            )
            return
        self.pongs += 1
        outstanding = self.outstanding
        if outstanding is None:
            self.unsolicited += 1
            return
        rtt = ns_of(rec.ts, rec.ts_ns) - self.outstanding_ns
        rtt_ms = round(span_ms(0, rtt), 3)
        self.rtts.append(rtt_ms)
        self.pairs.append(HeartbeatPair(outstanding.frame, outstanding.ts, rec.frame, rec.ts, rtt_ms))
        if self.timeout_ns is not None and rtt > self.timeout_ns:
            self.late += 1
            msg = f"pong {span_ms(0, rtt):.0f} ms after its ping, over pingTimeout {self.timeout_ms} ms (G5)"
            self.reports.report(codes.PING_TIMEOUT, msg, rec)
        self.outstanding = None

    def finish(self, seen_ns: int | None) -> HeartbeatStats:
        outstanding = self.outstanding
        if outstanding is not None:
            self.unanswered += 1
            timeout_ns = self.timeout_ns
            if timeout_ns is not None and seen_ns is not None and seen_ns - self.outstanding_ns > timeout_ns:
                msg = f"ping never answered within pingTimeout {self.timeout_ms} ms (G5)"
                self.reports.report(codes.PING_TIMEOUT, msg, outstanding)
        return HeartbeatStats(
            pinger=self.pinger,
            pings=self.pings,
            pongs=self.pongs,
            rtt_ms=tuple(self.rtts),
            unanswered=self.unanswered,
            unsolicited_pongs=self.unsolicited,
            ping_gaps_ms=tuple(self.gaps),
            late_pongs=self.late,
            pairs=tuple(self.pairs),
        )


def analyze_heartbeat(
    records: Sequence[EioPacketRecord],
    version: int,
    ping_interval_ms: int | None,
    ping_timeout_ms: int | None,
    *,
    end_ts: float | None = None,
    start_ts: float | None = None,
    end_ns: int | None = None,
    start_ns: int | None = None,
) -> tuple[HeartbeatStats, list[Anomaly]]:
    """Pair each ping with the next pong of the other side; `records` in capture order.

    `end_ts` is when the session was last seen (a ping still unanswered more than
    pingTimeout before it counts as timed out); `start_ts` is the open packet's time
    (the first ping is due within pingInterval + pingTimeout of it); `end_ns`, `start_ns` the same
    in integer nanoseconds, which every interval is computed from (as the records' `ts_ns`).
    """
    start = ns_of(start_ts, start_ns) if start_ts is not None else None
    pairing = _Pairing(version, ping_interval_ms, ping_timeout_ms, start)
    for rec in records:
        ptype = rec.packet.type
        if ptype not in _PING_PONG or rec.packet.is_probe:
            continue
        if ptype is _PING:
            pairing.ping(rec)
        else:
            pairing.pong(rec)
    seen_ns = ns_of(end_ts, end_ns) if end_ts is not None else None
    stats = pairing.finish(seen_ns)  # before the reports are closed: it may add one
    return stats, pairing.reports.finish(records)
