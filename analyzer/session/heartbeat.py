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
    pinger = Direction.S2C if version >= 4 else Direction.C2S
    anomalies: list[Anomaly] = []
    reported: dict[str, int] = {}

    def report(code: str, message: str, rec: EioPacketRecord) -> None:
        n = reported.get(code, 0)
        reported[code] = n + 1
        if n < _MAX_REPORTS:
            anomalies.append(make_anomaly(code, message, rec.connection, rec.direction, (rec.frame,)))

    timeout_ns = ping_timeout_ms * _NS_PER_MS if ping_timeout_ms is not None else None
    gap_limit_ns = (
        (ping_interval_ms + ping_timeout_ms) * _NS_PER_MS
        if ping_interval_ms is not None and ping_timeout_ms is not None
        else None
    )
    pings = pongs = unanswered = unsolicited = late = 0
    rtts: list[float] = []
    pairs: list[HeartbeatPair] = []
    gaps: list[float] = []
    outstanding: EioPacketRecord | None = None
    outstanding_ns = 0
    last_ping_ns = ns_of(start_ts, start_ns) if version >= 4 and start_ts is not None else None
    for rec in records:
        ptype = rec.packet.type
        if ptype not in _PING_PONG or rec.packet.is_probe:
            continue
        if ptype is _PING:
            if rec.direction is not pinger:
                # G4: v4 clients do not ping (only 2probe); v3 servers do not
                who = "client" if rec.direction is Direction.C2S else "server"
                report(codes.UNEXPECTED_PING, f"ping from the {who} in Engine.IO v{version}", rec)
                continue
            pings += 1
            now = ns_of(rec.ts, rec.ts_ns)
            if outstanding is not None:
                unanswered += 1
                if timeout_ns is not None and now - outstanding_ns > timeout_ns:
                    msg = f"ping not answered within pingTimeout {ping_timeout_ms} ms, next ping came (G5)"
                    report(codes.PING_TIMEOUT, msg, outstanding)
            if last_ping_ns is not None:
                gap = now - last_ping_ns
                if pings > 1:
                    gaps.append(round(span_ms(0, gap), 3))
                if gap_limit_ns is not None and gap > gap_limit_ns:
                    # G5 (v4): the client "SHOULD" give up after pingInterval + pingTimeout
                    msg = (
                        f"{span_ms(0, gap):.0f} ms without a ping, more than pingInterval + pingTimeout "
                        f"({ping_interval_ms} + {ping_timeout_ms} ms)"
                    )
                    report(codes.PING_INTERVAL_EXCEEDED, msg, rec)
            last_ping_ns = now
            outstanding = rec
            outstanding_ns = now
            continue
        if rec.direction is pinger:
            who = "server" if rec.direction is Direction.S2C else "client"
            report(codes.UNEXPECTED_PONG, f"pong from the {who} in Engine.IO v{version}", rec)
            continue
        pongs += 1
        if outstanding is None:
            unsolicited += 1
            continue
        rtt = ns_of(rec.ts, rec.ts_ns) - outstanding_ns
        rtt_ms = round(span_ms(0, rtt), 3)
        rtts.append(rtt_ms)
        pairs.append(HeartbeatPair(outstanding.frame, outstanding.ts, rec.frame, rec.ts, rtt_ms))
        if timeout_ns is not None and rtt > timeout_ns:
            late += 1
            msg = f"pong {span_ms(0, rtt):.0f} ms after its ping, over pingTimeout {ping_timeout_ms} ms (G5)"
            report(codes.PING_TIMEOUT, msg, rec)
        outstanding = None
    if outstanding is not None:
        unanswered += 1
        seen_ns = ns_of(end_ts, end_ns) if end_ts is not None else None
        if timeout_ns is not None and seen_ns is not None and seen_ns - outstanding_ns > timeout_ns:
            msg = f"ping never answered within pingTimeout {ping_timeout_ms} ms (G5)"
            report(codes.PING_TIMEOUT, msg, outstanding)
    for code, n in reported.items():
        if n > _MAX_REPORTS and records:
            last = records[-1]
            msg = f"{n - _MAX_REPORTS} more {code} anomalies in this session not listed"
            anomalies.append(make_anomaly(code, msg, last.connection, None, (last.frame,)))
    stats = HeartbeatStats(
        pinger=pinger,
        pings=pings,
        pongs=pongs,
        rtt_ms=tuple(rtts),
        unanswered=unanswered,
        unsolicited_pongs=unsolicited,
        ping_gaps_ms=tuple(gaps),
        late_pongs=late,
        pairs=tuple(pairs),
    )
    return stats, anomalies
