"""Rules that need both directions of a WebSocket connection (PROTOCOLS.md W12-W15), sans-IO.

The pipeline hands every decoded `WsFrame` of both directions, in capture order,
with the packet number that carried its last byte, and the TCP FIN/RST of each
direction; `finish()` then gives the close handshake, ping/pong round trips and
the conversation's anomalies as (code, message, direction, frames).

Choices, all bounded in memory:

- Ping/Pong (§5.5.2-3): a Pong answers the oldest outstanding Ping of the other
  side sent before it (by packet: pairing goes by time, not by the order frames are handed
  over) with the same application data; the Pings before it count as answered by
  it ("a Pong in response to the most recent Ping" is allowed). A Pong matching no
  outstanding Ping is ws.pong-mismatch when Pings are outstanding, and an
  unsolicited heartbeat (legal) otherwise. Pings still open at the end are
  ws.ping-unanswered when TCP has ended or the peer sent frames after them, except
  those sent after a Close (the peer may stop answering then).
- Close (§5.5.1, §7.1.5): ws.no-close / ws.close-not-answered are only judged
  once TCP has ended; a capture that stops on an open connection proves nothing.
- Masking keys (§5.3): ws.zero-mask-key for the key 00000000; ws.repeated-mask-key
  when a client frame reuses a key of its last 256 frames. Random 32-bit keys
  collide that way with odds of about 6e-8 per frame, so a hit means keys that
  are not fresh. Each is one anomaly for the connection listing its frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from analyzer.model.codes import websocket as codes
from analyzer.model.common import Direction
from analyzer.model.facts import CloseFacts, PingFacts, WsClose, WsConversationFacts
from analyzer.model.times import ns_of, span_ms
from analyzer.protocols.websocket import Opcode, WsFrame

__all__ = ["CloseInfo", "ConvAnomaly", "ConversationSummary", "PingPair", "WsConversation"]

ConvAnomaly = tuple[str, str, Direction | None, tuple[int, ...]]

MASK_WINDOW = 256
_ZERO_KEY = b"\x00\x00\x00\x00"
# Per-frame tests use module constants: Enum attribute lookups and Enum hashing are slow.
_C2S = Direction.C2S
_CLOSE, _PING, _PONG = int(Opcode.CLOSE), int(Opcode.PING), int(Opcode.PONG)


@dataclass(frozen=True, slots=True)
class CloseInfo:
    """The first Close frame sent in one direction."""

    code: int | None
    reason: str | None  # U+FFFD for bytes that are not UTF-8 (ws.invalid-utf8 says so)
    frame: int
    ts: float
    reason_bytes: bytes | None = None  # the reason as sent (§5.5.1); None without a code

    def to_dict(self) -> CloseFacts:
        return {
            "code": self.code,
            "reason": self.reason,
            "reason_hex": self.reason_bytes.hex() if self.reason_bytes is not None else None,
            "frame": self.frame,
        }


@dataclass(frozen=True, slots=True)
class PingPair:
    """A Ping and the Pong that answered it (pong fields None: superseded or never answered)."""

    direction: Direction  # who sent the Ping
    ping_frame: int
    ping_ts: float
    payload: bytes
    pong_frame: int | None
    pong_ts: float | None
    rtt_ms: float | None

    def to_dict(self) -> PingFacts:
        return {
            "direction": self.direction.value,
            "ping_frame": self.ping_frame,
            "ping_ts": self.ping_ts,
            "pong_frame": self.pong_frame,
            "pong_ts": self.pong_ts,
            "rtt_ms": self.rtt_ms,
            "payload_hex": self.payload.hex(),
        }


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    close_c2s: CloseInfo | None
    close_s2c: CloseInfo | None
    first_closer: Direction | None
    close_completed: bool  # both sides sent Close
    pings: tuple[PingPair, ...]
    anomalies: tuple[ConvAnomaly, ...]

    def to_dict(self) -> WsClose:
        """The `close` object of ANALYSIS_JSON.md."""
        return {
            "c2s": self.close_c2s.to_dict() if self.close_c2s is not None else None,
            "s2c": self.close_s2c.to_dict() if self.close_s2c is not None else None,
        }

    def pings_to_list(self) -> list[PingFacts]:
        return [p.to_dict() for p in self.pings]

    def facts(self) -> WsConversationFacts:
        """The `conversation` object of a WebSocket (docs/analysis-json.md): close handshake, pings."""
        rtts = [p.rtt_ms for p in self.pings if p.rtt_ms is not None]
        return {
            "close_handshake": {
                "first_closer": self.first_closer.value if self.first_closer else None,
                "completed": self.close_completed,
            },
            "pings": self.pings_to_list(),
            "ping_rtt_ms": {
                "count": len(rtts),
                "min": min(rtts) if rtts else None,
                "max": max(rtts) if rtts else None,
                "mean": sum(rtts) / len(rtts) if rtts else None,
            },
        }


class _Ping:
    __slots__ = ("excused", "frame", "ns", "payload", "ts")

    def __init__(self, payload: bytes, frame: int, ts: float, ns: int, excused: bool) -> None:
        self.payload = payload
        self.frame = frame
        self.ts = ts
        self.ns = ns  # `ts` in integer nanoseconds: the round trip is computed from it
        self.excused = excused  # sent after a Close: the peer need not answer


class WsConversation:
    """Cross-direction state of one WebSocket connection."""

    def __init__(self, *, max_pings: int = 100_000, max_outstanding: int = 64, max_listed: int = 100) -> None:
        self._max_pings = max_pings
        self._max_outstanding = max_outstanding
        self._max_listed = max_listed  # frames listed in one aggregated anomaly
        self._close: dict[Direction, CloseInfo] = {}
        self._close_seen_at: int | None = None  # packet of the first Close of either side
        self._outstanding: dict[Direction, deque[_Ping]] = {Direction.C2S: deque(), Direction.S2C: deque()}
        self._pairs: list[PingPair] = []
        self._unanswered: dict[Direction, list[int]] = {Direction.C2S: [], Direction.S2C: []}
        self._unanswered_n: dict[Direction, int] = {Direction.C2S: 0, Direction.S2C: 0}
        self._mismatches: list[ConvAnomaly] = []
        self._tcp_end: dict[Direction, tuple[str, float, int]] = {}
        self._last_c2s = -1  # packet of the latest frame of each direction (-1: none yet)
        self._last_s2c = -1
        # Pongs that came before any Ping they could answer, per pinger: (frame, ts, ns, payload)
        self._early: dict[Direction, list[tuple[int, float, int, bytes]]] = {
            Direction.C2S: [],
            Direction.S2C: [],
        }
        self._recent: deque[bytes] = deque()
        self._recent_count: dict[bytes, int] = {}
        self._zero_frames: list[int] = []
        self._zero_n = 0
        self._repeat_frames: list[int] = []
        self._repeat_n = 0

    # --- input ------------------------------------------------------------------------------------

    def on_frame(
        self, direction: Direction, frame: WsFrame, ts: float, frame_no: int, ts_ns: int | None = None
    ) -> None:
        """A frame of packet `frame_no`, at `ts` seconds = `ts_ns` integer nanoseconds (the round
        trips of Pings come from the latter; it matters for control frames only)."""
        if direction is _C2S:
            self._last_c2s = max(self._last_c2s, frame_no)
            if frame.mask_key is not None:
                self._mask_key(frame.mask_key, frame_no)
        else:
            self._last_s2c = max(self._last_s2c, frame_no)
        op = frame.opcode
        if op < _CLOSE:
            return  # data frames: nothing more here
        if op == _CLOSE:
            if direction not in self._close:
                raw = frame.payload[2:] if frame.close_code is not None else None
                self._close[direction] = CloseInfo(frame.close_code, frame.close_reason, frame_no, ts, raw)
            if self._close_seen_at is None or frame_no < self._close_seen_at:
                self._close_seen_at = frame_no
        elif op == _PING:
            self._ping(direction, frame.payload, frame_no, ts, ns_of(ts, ts_ns))
        elif op == _PONG:
            self._pong(direction, frame.payload, frame_no, ts, ns_of(ts, ts_ns))

    def on_tcp_end(self, direction: Direction, kind: str, ts: float, frame_no: int) -> None:
        """That direction's FIN or RST (`kind` 'fin' | 'rst'); only the first one counts."""
        self._tcp_end.setdefault(direction, (kind, ts, frame_no))

    # --- ping / pong (§5.5.2, §5.5.3) ---------------------------------------------------------------

    def _ping(self, direction: Direction, payload: bytes, frame_no: int, ts: float, ns: int) -> None:
        # §5.5.2: a Pong is owed "unless it already received a Close frame" (sent before it).
        closed = self._close_seen_at is not None and self._close_seen_at < frame_no
        early = self._early[direction]
        for k, (pong_frame, pong_ts, pong_ns, pong_payload) in enumerate(early):
            if pong_frame > frame_no and pong_payload == payload:
                # its Pong was handed over first (see _pong): they pair by time, not by arrival
                del early[k]
                self._pair(direction, _Ping(payload, frame_no, ts, ns, closed), pong_frame, pong_ts, pong_ns)
                return
        queue = self._outstanding[direction]
        if len(queue) >= self._max_outstanding:
            self._give_up(direction, queue.popleft())
        queue.append(_Ping(payload, frame_no, ts, ns, closed))

    def _give_up(self, direction: Direction, ping: _Ping) -> None:
        if not ping.excused:
            self._unanswered_n[direction] += 1
            if len(self._unanswered[direction]) < self._max_listed:
                self._unanswered[direction].append(ping.frame)
        self._pair(direction, ping, None, None, 0)

    def _pair(
        self, direction: Direction, ping: _Ping, pong_frame: int | None, pong_ts: float | None, pong_ns: int
    ) -> None:
        if len(self._pairs) >= self._max_pings:
            return
        rtt = span_ms(ping.ns, pong_ns) if pong_ts is not None else None
        self._pairs.append(PingPair(direction, ping.frame, ping.ts, ping.payload, pong_frame, pong_ts, rtt))

    def _pong(self, direction: Direction, payload: bytes, frame_no: int, ts: float, ns: int) -> None:
        pinger = direction.other
        queue = self._outstanding[pinger]
        if not queue or queue[0].frame > frame_no:
            # no Ping sent before it: an unsolicited Pong (§5.5.3, a unidirectional heartbeat),
            # or one whose Ping is still to be handed over; kept a while for the latter
            early = self._early[pinger]
            early.append((frame_no, ts, ns, payload))
            if len(early) > self._max_outstanding:
                del early[0]
            return
        for k, ping in enumerate(queue):
            if ping.frame > frame_no:
                break  # sent after this Pong: not what it answers
            if ping.payload == payload:
                for _ in range(k):
                    self._pair(pinger, queue.popleft(), None, None, 0)
                self._pair(pinger, queue.popleft(), frame_no, ts, ns)
                return
        if len(self._mismatches) < self._max_listed:
            latest = queue[-1]
            self._mismatches.append(
                (
                    codes.PONG_MISMATCH,
                    f"Pong data {payload[:16].hex()} matches none of the {len(queue)} outstanding Pings "
                    f"(latest {latest.payload[:16].hex()})",
                    direction,
                    (latest.frame, frame_no),
                )
            )

    # --- masking keys (§5.3) ----------------------------------------------------------------------

    def _mask_key(self, key: bytes, frame_no: int) -> None:
        if key == _ZERO_KEY:
            self._zero_n += 1
            if len(self._zero_frames) < self._max_listed:
                self._zero_frames.append(frame_no)
            return
        counts = self._recent_count
        if key in counts:
            self._repeat_n += 1
            if len(self._repeat_frames) < self._max_listed:
                self._repeat_frames.append(frame_no)
        recent = self._recent
        recent.append(key)
        counts[key] = counts.get(key, 0) + 1
        if len(recent) > MASK_WINDOW:
            old = recent.popleft()
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]

    # --- summary ----------------------------------------------------------------------------------

    def finish(self) -> ConversationSummary:
        """The conversation so far (may be called again after more input)."""
        anomalies: list[ConvAnomaly] = []
        c2s = self._close.get(Direction.C2S)
        s2c = self._close.get(Direction.S2C)
        first: Direction | None = None
        if c2s is not None and (s2c is None or c2s.frame <= s2c.frame):
            first = Direction.C2S
        elif s2c is not None:
            first = Direction.S2C
        self._close_anomalies(first, anomalies)
        # W14: Pings nobody answered.
        for d in (Direction.C2S, Direction.S2C):
            # A Ping is judged once the peer can be seen to have had the chance to answer.
            peer_last = self._last_s2c if d is _C2S else self._last_c2s
            late = [
                p.frame
                for p in self._outstanding[d]
                if not p.excused and (self._tcp_end or peer_last > p.frame)
            ]
            frames = self._unanswered[d] + late
            count = self._unanswered_n[d] + len(late)
            if count:
                anomalies.append(
                    (
                        codes.PING_UNANSWERED,
                        f"{count} Ping(s) sent {d.value} never answered by a Pong",
                        d,
                        tuple(frames[: self._max_listed]),
                    )
                )
        anomalies.extend(self._mismatches)
        # W15: masking keys.
        if self._zero_n:
            anomalies.append(
                (
                    codes.ZERO_MASK_KEY,
                    f"{self._zero_n} client frame(s) masked with 00000000",
                    Direction.C2S,
                    tuple(self._zero_frames),
                )
            )
        if self._repeat_n:
            anomalies.append(
                (
                    codes.REPEATED_MASK_KEY,
                    f"{self._repeat_n} client frame(s) reuse a masking key of the last {MASK_WINDOW} frames",
                    Direction.C2S,
                    tuple(self._repeat_frames),
                )
            )
        pairs = list(self._pairs)
        for d in (Direction.C2S, Direction.S2C):
            for ping in self._outstanding[d]:
                if len(pairs) < self._max_pings:
                    pairs.append(PingPair(d, ping.frame, ping.ts, ping.payload, None, None, None))
        pairs.sort(key=lambda p: p.ping_frame)
        return ConversationSummary(
            c2s, s2c, first, c2s is not None and s2c is not None, tuple(pairs), tuple(anomalies)
        )

    def _close_anomalies(self, first: Direction | None, anomalies: list[ConvAnomaly]) -> None:
        if not self._tcp_end:
            return  # still open at the end of the capture: nothing is proven
        ender = min(self._tcp_end, key=lambda d: self._tcp_end[d][2])
        kind, _, end_frame = self._tcp_end[ender]
        if first is None:
            # §7.1.5: TCP closed with no Close frame => close code 1006 (abnormal closure).
            anomalies.append(
                (
                    codes.NO_CLOSE,
                    f"TCP {kind.upper()} from {ender.value} with no Close frame",
                    ender,
                    (end_frame,),
                )
            )
            return
        closer = self._close[first]
        if first.other not in self._close:
            # §5.5.1: an endpoint that receives Close MUST answer with Close.
            anomalies.append(
                (
                    codes.CLOSE_NOT_ANSWERED,
                    f"Close sent {first.value} (code {closer.code}) never answered before TCP {kind.upper()}",
                    first.other,
                    (closer.frame, end_frame),
                )
            )
            return
        # W13 (§5.5.1, §7.1.1): after the close handshake the server closes TCP first.
        done_at = max(info.frame for info in self._close.values())
        client_end = self._tcp_end.get(Direction.C2S)
        server_end = self._tcp_end.get(Direction.S2C)
        if (
            client_end is not None
            and client_end[2] >= done_at
            and (server_end is None or client_end[2] < server_end[2])
        ):
            anomalies.append(
                (
                    codes.CLIENT_CLOSED_TCP_FIRST,
                    f"client {client_end[0].upper()} before the server's after the close handshake",
                    Direction.C2S,
                    (client_end[2],),
                )
            )
