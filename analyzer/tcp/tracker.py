"""TCP connection tracking: roles, the 3-way handshake, teardown, port reuse (RFC 9293 §3.5, §3.6).

The client is the side that sent the SYN; with no SYN in the capture, the side that
sent the HTTP request; failing both, the side with the higher port (ANALYSIS_JSON.md).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from analyzer.decode.packet import ACK, FIN, RST, SYN, Segment, ip_text, parse_tcp_options
from analyzer.model.common import Direction
from analyzer.model.facts import Endpoint, TcpFacts
from analyzer.tcp.reassembly import DISCARD, DirectionStream, StreamSink

__all__ = ["ConnectionTracker", "TcpConnection", "looks_like_http_request", "looks_like_http_response"]

_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")


def looks_like_http_request(data: bytes) -> bool:
    return data.startswith(_METHODS)


def looks_like_http_response(data: bytes) -> bool:
    return data.startswith(b"HTTP/1.")


class TcpConnection:
    """Everything socketscope knows about one TCP connection."""

    __slots__ = (
        "app",
        "c2s",
        "client",
        "client_isn",
        "closed",
        "fin_frames",
        "first_frame",
        "first_ts",
        "hs_ack",
        "id",
        "ip_version",
        "last_frame",
        "last_ns",
        "last_ts",
        "lingering",
        "mss_non_syn",
        "packets",
        "payload_bytes",
        "roles_known",
        "rst_direction",
        "rst_frame",
        "rst_out_of_seq",
        "s2c",
        "server",
        "server_isn",
        "syn",
        "syn_last_ns",
        "syn_options",
        "syn_retransmissions",
        "synack",
        "synack_options",
    )

    def __init__(
        self,
        cid: int,
        seg: Segment,
        client: tuple[bytes, int],
        server: tuple[bytes, int],
        roles_known: bool,
        sink: StreamSink,
    ) -> None:
        self.id = cid
        self.ip_version = seg.ip_version
        self.client = client
        self.server = server
        self.roles_known = roles_known
        self.c2s = DirectionStream(Direction.C2S, sink)
        self.s2c = DirectionStream(Direction.S2C, sink)
        self.c2s.owner = self
        self.s2c.owner = self
        # per direction, indexed [c2s, s2c]: lists, not Direction-keyed dicts (enum hashing per packet)
        self.packets = [0, 0]
        self.payload_bytes = [0, 0]
        # (packet, time in seconds, time in integer nanoseconds): durations come from the latter
        self.syn: tuple[int, float, int] | None = None
        self.synack: tuple[int, float, int] | None = None
        self.hs_ack: tuple[int, float, int] | None = None
        self.syn_options: dict[str, object] = {}
        self.synack_options: dict[str, object] = {}
        self.fin_frames: dict[Direction, int] = {}
        self.rst_frame: int | None = None
        self.rst_direction: Direction | None = None
        self.first_ts = seg.ts
        self.last_ts = seg.ts
        self.last_ns = seg.ts_ns
        self.first_frame = seg.frame
        self.last_frame = seg.frame
        self.app: Any = None  # the application-layer analyzer attached by the pipeline
        self.client_isn: int | None = None
        self.server_isn: int | None = None
        self.closed = False
        self.mss_non_syn = 0
        self.rst_out_of_seq = 0
        self.syn_last_ns = 0  # the SYN that was answered: retransmitted SYNs move it (Karn, RFC 6298 §3)
        self.syn_retransmissions = 0
        self.lingering = False  # finished (RST, or FIN both ways) and waiting to be closed

    def stream(self, direction: Direction) -> DirectionStream:
        return self.c2s if direction is Direction.C2S else self.s2c

    def swap_roles(self) -> None:
        """Before any data was delivered: the tentative client turned out to be the server."""
        self.client, self.server = self.server, self.client
        self.packets.reverse()
        self.payload_bytes.reverse()
        self.c2s, self.s2c = self.s2c, self.c2s
        self.c2s.direction, self.s2c.direction = Direction.C2S, Direction.S2C
        self.client_isn, self.server_isn = self.server_isn, self.client_isn

    @property
    def handshake_rtt_ms(self) -> float | None:
        if self.syn and self.hs_ack:
            return (self.hs_ack[2] - self.syn_last_ns) / 1e6
        return None

    @property
    def end(self) -> str:
        if self.rst_frame is not None:
            return "rst"
        if self.fin_frames:
            return "fin"
        return "open"

    def endpoint_dict(self, ep: tuple[bytes, int]) -> Endpoint:
        return {"ip": ip_text(ep[0]), "port": ep[1]}

    def tcp_dict(self) -> TcpFacts:
        hs_complete = bool(self.syn and self.synack and self.hs_ack)
        rtt = self.handshake_rtt_ms
        return {
            "handshake": {
                "syn_frame": self.syn[0] if self.syn else None,
                "synack_frame": self.synack[0] if self.synack else None,
                "ack_frame": self.hs_ack[0] if self.hs_ack else None,
                "rtt_ms": round(rtt, 6) if rtt is not None else None,
                "syn_retransmissions": self.syn_retransmissions,
                "syn_synack_ms": round((self.synack[2] - self.syn_last_ns) / 1e6, 6)
                if self.syn and self.synack
                else None,
                "synack_ack_ms": round((self.hs_ack[2] - self.synack[2]) / 1e6, 6)
                if self.synack and self.hs_ack
                else None,
                "complete": hs_complete,
                "client_options": self.syn_options,
                "server_options": self.synack_options,
            },
            "end": self.end,
            "teardown": {
                "fin_frames": {d.value: f for d, f in self.fin_frames.items()},
                "rst_frame": self.rst_frame,
                "rst_direction": self.rst_direction.value if self.rst_direction else None,
                "first_fin": min(self.fin_frames.items(), key=lambda kv: kv[1])[0].value
                if self.fin_frames
                else None,
            },
            "packets": {"c2s": self.packets[0], "s2c": self.packets[1]},
            "payload_bytes": {
                "c2s": self.payload_bytes[0],
                "s2c": self.payload_bytes[1],
            },
            "stream_bytes": {"c2s": self.c2s.bytes, "s2c": self.s2c.bytes},
            "retransmissions": self.c2s.retransmissions + self.s2c.retransmissions,
            "keepalives": self.c2s.keepalives + self.s2c.keepalives,
            "gaps": self.c2s.gaps + self.s2c.gaps,
            "gap_bytes": self.c2s.gap_bytes + self.s2c.gap_bytes,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
        }


ConnKey = tuple[bytes, int, bytes, int]

# A finished connection (RST, or both FINs delivered) is closed -- its record emitted and its
# memory freed -- once this many further packets or seconds of capture passed without a packet
# of its own: the last ACK of a FIN handshake and late retransmissions still count for it.
LINGER_PACKETS = 4096
LINGER_SECONDS = 60.0
LINGER_NS = int(LINGER_SECONDS * 1e9)
# Ports of closed connections are remembered so that stray packets after the close are counted,
# not mistaken for a new connection that started mid-stream (bounded, oldest forgotten first).
MAX_TOMBSTONES = 65536
# The connection table (docs/bounds.md): when a new connection would make it hold more than this
# many, room is made first by closing the oldest finished (lingering) connection early, then by
# evicting the oldest idle connection that carried no data either way (a SYN flood's half-open
# flows, handshakes never used, bare ACKs): dropped without a record, counted, and reported once
# as tcp.table-full. Connections that carried data are never evicted. About 6 KB each.
MAX_CONNECTIONS = 16384


class ConnectionTracker:
    """Routes segments to connections and their direction streams."""

    def __init__(
        self,
        on_new: Callable[[TcpConnection], StreamSink],
        on_close: Callable[[TcpConnection], None],
        on_drop: Callable[[TcpConnection], None] | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        """`on_new(conn)` names the sink of a new connection's two streams; `on_drop(conn)` is
        told of a connection evicted from the full table (no record: `on_close` is not called)."""
        self.on_new = on_new
        self.on_close = on_close
        self.on_drop = on_drop
        self.max_connections = max(1, max_connections)
        self.active: dict[ConnKey, TcpConnection] = {}  # both directions' keys (the fast loop reads it)
        self.open = 0  # connections in `active`
        self.next_id = 0
        self.port_reuses: list[tuple[int, int]] = []  # (old id, frame of the new SYN)
        self.linger: deque[TcpConnection] = deque()
        # connections that started without data, oldest first, as (key, id, last packet when queued):
        # keys, not the connections, so that a closed one is not kept alive by the queue
        self._idle: deque[tuple[ConnKey, int, int]] = deque()
        self._tombstones: OrderedDict[ConnKey, int] = OrderedDict()
        self.late_packets = 0  # packets of connections already closed
        self.stray_resets = 0  # bare RSTs of flows the capture has no other packet of (no connection)
        self.evicted = 0  # connections without data dropped from the full table
        self.evicted_first_frame = 0  # the packet that made room the first time
        self.closed_early = 0  # finished connections closed before their linger time, for room

    def _new(self, seg: Segment, key: ConnKey, rkey: ConnKey) -> TcpConnection:
        f = seg.flags
        a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
        if f & SYN and not f & ACK:
            client, server, known = a, b, True
        elif f & SYN and f & ACK:
            client, server, known = b, a, True
        elif seg.payload and looks_like_http_request(seg.payload):
            client, server, known = a, b, True
        elif seg.payload and looks_like_http_response(seg.payload):
            client, server, known = b, a, True
        else:  # tentative until the first payload tells
            client, server = (a, b) if seg.sport > seg.dport else (b, a)
            known = bool(seg.payload)
        if self.open >= self.max_connections:
            self._make_room(seg.frame)
        conn = TcpConnection(self.next_id, seg, client, server, known, DISCARD)
        self.next_id += 1
        self.active[key] = conn
        self.active[rkey] = conn
        self.open += 1
        if not seg.payload:
            self._queue_idle(key, conn.id, seg.frame)
        sink = self.on_new(conn)
        conn.c2s.sink = sink
        conn.s2c.sink = sink
        return conn

    def handle(self, seg: Segment) -> tuple[TcpConnection, Direction] | None:
        if self.linger:
            self.expire(seg.frame, seg.ts_ns)
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        conn = self.active.get(key)
        f = seg.flags
        if conn is None:
            old_id = self._tombstones.get(key)
            if old_id is not None and not f & SYN:
                self.late_packets += 1
                return None
            if f & RST and not seg.payload:
                # a reset of a flow the capture saw nothing else of: counted, not a connection
                self.stray_resets += 1
                return None
            conn = self._new(seg, key, (seg.dst, seg.dport, seg.src, seg.sport))
            if old_id is not None:
                self._reused(conn, seg, old_id, "closed")
        elif f & SYN and not f & ACK and self._is_reuse(conn, seg):
            old = conn
            self._close(old)
            conn = self._new(seg, key, (seg.dst, seg.dport, seg.src, seg.sport))
            self._reused(conn, seg, old.id, _how_it_ended(old))
        direction = Direction.C2S if (seg.src, seg.sport) == conn.client else Direction.S2C
        if not conn.roles_known and seg.payload:
            conn.roles_known = True
            if (direction is Direction.C2S and looks_like_http_response(seg.payload)) or (
                direction is Direction.S2C and looks_like_http_request(seg.payload)
            ):
                conn.swap_roles()
                direction = direction.other
        self._segment(conn, direction, seg)
        if not conn.lingering and (conn.rst_frame is not None or (conn.c2s.ended and conn.s2c.ended)):
            conn.lingering = True
            self.linger.append(conn)
        return conn, direction

    def expire(self, frame: int, ts_ns: int) -> None:
        """Close lingering connections that have been quiet long enough (`ts_ns`: now, in ns)."""
        q = self.linger
        while q:
            conn = q[0]
            if frame - conn.last_frame < LINGER_PACKETS and ts_ns - conn.last_ns < LINGER_NS:
                return
            q.popleft()
            if not conn.closed:
                self._close(conn)

    def _idle_conn(self, key: ConnKey, cid: int) -> TcpConnection | None:
        """The open connection a queue entry stands for, while it has carried no data."""
        conn = self.active.get(key)
        if conn is None or conn.id != cid or conn.payload_bytes[0] or conn.payload_bytes[1]:
            return None
        return conn

    def _queue_idle(self, key: ConnKey, cid: int, frame: int) -> None:
        idle = self._idle
        idle.append((key, cid, frame))
        while idle and self._idle_conn(idle[0][0], idle[0][1]) is None:
            idle.popleft()  # closed, evicted, or carried data since
        if len(idle) > 2 * self.max_connections:  # stale entries behind a long-lived head
            self._idle = deque(e for e in idle if self._idle_conn(e[0], e[1]) is not None)

    def _make_room(self, frame: int) -> None:
        """The table is full: close the oldest finished connection, or else evict the oldest idle
        connection that carried no data (see MAX_CONNECTIONS). With neither, the table grows."""
        q = self.linger
        while q:
            done = q.popleft()
            if not done.closed:
                self.closed_early += 1
                self._close(done)
                return
        idle = self._idle
        for _ in range(len(idle)):
            key, cid, stamp = idle.popleft()
            conn = self._idle_conn(key, cid)
            if conn is None:
                continue  # gone, or carried data: never evicted
            if conn.last_frame != stamp:
                idle.append((key, cid, conn.last_frame))  # busy since it was queued: a second chance
                continue
            self._drop(conn, frame)
            return
        while idle:  # every one was busy: the least recently queued goes
            key, cid, _ = idle.popleft()
            conn = self._idle_conn(key, cid)
            if conn is not None:
                self._drop(conn, frame)
                return

    def table_full(self) -> str:
        """The message of the capture's tcp.table-full record (when `evicted`)."""
        early = self.closed_early
        return (
            f"the connection table was full ({self.max_connections} connections): {self.evicted} idle "
            f"connections that carried no data were dropped without a record (the first at packet "
            f"{self.evicted_first_frame})"
            + (f", and {early} finished ones closed before their linger time" if early else "")
        )

    def _drop(self, conn: TcpConnection, frame: int) -> None:
        (ca, cp), (sa, sp) = conn.client, conn.server
        for k in ((ca, cp, sa, sp), (sa, sp, ca, cp)):
            if self.active.get(k) is conn:
                del self.active[k]
        self.open -= 1
        conn.closed = True
        if not self.evicted:
            self.evicted_first_frame = frame
        self.evicted += 1
        if self.on_drop is not None:
            self.on_drop(conn)

    def _reused(self, conn: TcpConnection, seg: Segment, old_id: int, how: str) -> None:
        """RFC 9293 §3.6: a new SYN on the 4-tuple of an earlier connection (TIME-WAIT reuse)."""
        self.port_reuses.append((old_id, seg.frame))
        stream = conn.c2s if (seg.src, seg.sport) == conn.client else conn.s2c
        stream._anomaly(
            "tcp.port-reuse",
            f"the SYN reuses the addresses and ports of connection {old_id} ({how}); a new connection starts",
            seg.frame,
        )

    def _is_reuse(self, conn: TcpConnection, seg: Segment) -> bool:
        if conn.client_isn is None:
            return conn.closed or bool(conn.fin_frames) or conn.rst_frame is not None
        return seg.seq != conn.client_isn  # the same ISN is a retransmitted SYN

    def _segment(self, conn: TcpConnection, d: Direction, seg: Segment) -> None:
        f = seg.flags
        c2s = d is Direction.C2S
        payload = seg.payload
        i = 0 if c2s else 1
        conn.packets[i] += 1
        conn.payload_bytes[i] += len(payload)
        conn.last_ts = seg.ts
        conn.last_ns = seg.ts_ns
        conn.last_frame = seg.frame
        stream = conn.c2s if c2s else conn.s2c
        if f & ACK:  # what the peer got, before this segment's own data (it was sent after)
            other = conn.s2c if c2s else conn.c2s
            if other.ooo:
                other.acked(seg.ack, seg.frame, seg.ts)
        seq = seg.seq
        options = seg.options
        if (
            not f & (SYN | RST | FIN)
            and conn.hs_ack is not None
            and (not options or b"\x02\x04" not in options)
        ):
            # the common case: an established connection, no SYN/RST/FIN, no MSS option to flag
            if payload:
                stream.segment(seq, payload, False, seg.frame, seg.ts, seg.ts_ns, seg.snap_cut)
            return
        if f & SYN:
            opts = parse_tcp_options(seg.options) if seg.options else {}
            if d is Direction.C2S and not f & ACK:
                if conn.syn is not None and seq == conn.client_isn:
                    if not payload:  # with data, `segment` counts it
                        stream.control_retransmission(seg.frame)
                    if conn.synack is None:
                        conn.syn_last_ns = seg.ts_ns
                        conn.syn_retransmissions += 1
                if conn.syn is None:
                    conn.syn = (seg.frame, seg.ts, seg.ts_ns)
                    conn.syn_last_ns = seg.ts_ns
                    conn.syn_options = opts
                    conn.client_isn = seq
                    stream.set_isn(seq + 1)  # RFC 9293 §3.4: SYN takes one sequence number
            elif f & ACK and d is Direction.S2C and conn.synack is None:
                conn.synack = (seg.frame, seg.ts, seg.ts_ns)
                conn.synack_options = opts
                conn.server_isn = seq
                stream.set_isn(seq + 1)
            elif f & ACK and d is Direction.S2C and seq == conn.server_isn and not payload:
                stream.control_retransmission(seg.frame)  # the SYN-ACK sent again
            seq = (seq + 1) & 0xFFFFFFFF
        elif seg.options and _has_mss(seg.options):
            conn.mss_non_syn += 1
            stream._anomaly("tcp.mss-on-non-syn", "MSS option on a segment without SYN", seg.frame)
        if (
            d is Direction.C2S
            and conn.hs_ack is None
            and conn.synack is not None
            and f & ACK
            and not f & SYN
            and conn.server_isn is not None
            and seg.ack == (conn.server_isn + 1) & 0xFFFFFFFF
        ):
            conn.hs_ack = (seg.frame, seg.ts, seg.ts_ns)
        if f & RST:
            if conn.rst_frame is None:
                conn.rst_frame = seg.frame
                conn.rst_direction = d
                if stream.isn is not None and seq != (stream.isn + stream.next) & 0xFFFFFFFF:
                    conn.rst_out_of_seq += 1
                    stream._anomaly(
                        "tcp.rst-out-of-sequence", "RST not at the next sequence number", seg.frame
                    )
            return
        fin = bool(f & FIN)
        if fin and d not in conn.fin_frames:
            conn.fin_frames[d] = seg.frame
        if seg.payload or fin:
            stream.segment(seq, seg.payload, fin, seg.frame, seg.ts, seg.ts_ns, seg.snap_cut)

    def _close(self, conn: TcpConnection) -> None:
        (ca, cp), (sa, sp) = conn.client, conn.server
        for k in ((ca, cp, sa, sp), (sa, sp, ca, cp)):
            if self.active.get(k) is conn:
                del self.active[k]
            self._tombstones[k] = conn.id
            self._tombstones.move_to_end(k)
        while len(self._tombstones) > MAX_TOMBSTONES:
            self._tombstones.popitem(last=False)
        self.open -= 1
        conn.closed = True
        self.on_close(conn)

    def finish(self) -> None:
        seen: set[int] = set()
        for conn in list(self.active.values()):
            if conn.id not in seen:
                seen.add(conn.id)
                self._close(conn)


def _how_it_ended(conn: TcpConnection) -> str:
    if conn.rst_frame is not None:
        return f"reset at packet {conn.rst_frame}"
    if conn.fin_frames:
        return f"finished, FIN at packet {min(conn.fin_frames.values())}"
    return f"no FIN or RST seen, last packet {conn.last_frame}"


def _has_mss(options: bytes) -> bool:
    # cheap pre-check: kind 2 length 4 must appear somewhere (RFC 9293 §3.2)
    return b"\x02\x04" in options and "mss" in parse_tcp_options(options)
