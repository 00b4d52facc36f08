"""The one place where the layers are wired together.

RawPacket -> PacketDecoder (link/IP/TCP) -> ConnectionTracker (roles, handshake) ->
DirectionStream (reassembly) -> ConnectionApp (HTTP, WebSocket; pipeline/connection.py) ->
SessionBuilder (Engine.IO / Socket.IO) -> finished records, handed to the sinks -> Analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from analyzer.capture.pcapfile import LINKTYPE_NAMES, RawPacket
from analyzer.decode.packet import PacketDecoder
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.registry import make_anomaly
from analyzer.model.session import EngineIOSession
from analyzer.pipeline.connection import ConnectionApp
from analyzer.pipeline.fastloop import feed_fast
from analyzer.pipeline.options import Options
from analyzer.pipeline.sink import session_order
from analyzer.pipeline.tls_step import keylog_anomalies
from analyzer.session.builder import SessionBuilder
from analyzer.session.payloads import PayloadStore
from analyzer.tcp.tracker import ConnectionTracker, TcpConnection

__all__ = ["Pipeline"]


class Pipeline:
    """Feed packets in capture order; `finish()` returns the Analysis."""

    FLUSH_EVERY = 4096  # packets between two looks for finished Engine.IO sessions (streaming only)

    def __init__(
        self,
        capture: CaptureInfo,
        options: Options | None = None,
        on_connection: Callable[[ConnectionRecord], None] | None = None,
        on_session: Callable[[EngineIOSession], None] | None = None,
    ) -> None:
        self.options = options or Options()
        self.capture = capture
        self.decoder = PacketDecoder()
        self.tracker = ConnectionTracker(self._on_new, self._on_close)
        self.records: list[ConnectionRecord] = []
        self.anomalies: list[Anomaly] = []
        self.on_connection = on_connection
        # streaming output: session payloads wait on disk and sessions are handed out one by one
        retain = self.options.retain_connections
        spill_payloads = on_session is not None and not retain and self.options.spill_records
        self.sessions = SessionBuilder(payloads=PayloadStore() if spill_payloads else None)
        self.linktypes: set[int] = set()  # link types seen (the fast loop reads it too)
        self._app_bytes: dict[str, int] = {}
        # streaming: every session goes to on_session as soon as it is over (instead of waiting
        # for finish()); with Options.retain_connections the analysis keeps them as well
        self.on_session = on_session
        self._kept_sessions: list[EngineIOSession] | None = [] if retain and on_session is not None else None
        # packets between two looks for finished sessions; 0: no look (they wait for finish())
        self.flush_every = self.FLUSH_EVERY if on_session is not None else 0

    # -- connections --
    def _on_new(self, conn: TcpConnection) -> ConnectionApp:
        """The connection's application layer, which is also the sink of its two streams."""
        app = ConnectionApp(conn, self.options, self.sessions)
        conn.app = app
        return app

    def _on_close(self, conn: TcpConnection) -> None:
        last = (conn.last_frame, conn.last_ts)
        conn.c2s.finish(*last)
        conn.s2c.finish(*last)
        record = ConnectionRecord(
            id=conn.id,
            client=conn.endpoint_dict(conn.client),
            server=conn.endpoint_dict(conn.server),
            ip_version=conn.ip_version,
            tcp=conn.tcp_dict(),
        )
        conn.app.finish(record)
        for stream in (conn.c2s, conn.s2c):
            for code, message, frame in stream.anomalies:
                self.anomalies.append(
                    make_anomaly(code, message, conn.id, stream.direction, (frame,) if frame else ())
                )
            if stream.retransmissions:
                # one record per connection and direction, listing the first retransmitted packets
                self.anomalies.append(
                    make_anomaly(
                        "tcp.retransmission",
                        stream.retransmission_summary(),
                        conn.id,
                        stream.direction,
                        stream.retx_frames,
                    )
                )
        self.anomalies.extend(conn.app.anomalies)
        for k, v in record.layer_bytes.items():
            self._app_bytes[k] = self._app_bytes.get(k, 0) + v
        if self.options.retain_connections:
            self.records.append(record)
        if self.on_connection is not None:
            self.on_connection(record)
        # the connection, its streams and its app refer to each other: break the cycles so that
        # reference counting frees them now (the cyclic collector runs seldom, see api.py)
        for stream in (conn.c2s, conn.s2c):
            stream.owner = None
            del stream.sink
        conn.app = None

    # -- packets --
    def feed(self, pkt: RawPacket) -> None:
        cap = self.capture
        if cap.first_ts is None:
            cap.first_ts = pkt.ts
        cap.last_ts = pkt.ts
        cap.packets += 1
        cap.bytes += len(pkt.data)
        if pkt.linktype not in self.linktypes:
            self.linktypes.add(pkt.linktype)
            cap.link_types.append(LINKTYPE_NAMES.get(pkt.linktype, f"LINKTYPE_{pkt.linktype}"))
        seg = self.decoder.decode(pkt)
        if seg is not None:
            self.tracker.handle(seg)
        if self.flush_every and not cap.packets % self.flush_every:
            self.flush_sessions(pkt.ts)

    def flush_sessions(self, now_ts: float) -> None:
        """Hand the sessions that are over to on_session (streaming output)."""
        assert self.on_session is not None
        sessions, anomalies = self.sessions.flush(now_ts)
        self.anomalies.extend(anomalies)
        for s in sessions:
            self._hand_over(s)

    def _hand_over(self, session: EngineIOSession) -> None:
        assert self.on_session is not None
        if self._kept_sessions is not None:
            self._kept_sessions.append(session)
        self.on_session(session)

    def feed_all(self, packets: Iterable[RawPacket], progress: Callable[[int], None] | None = None) -> None:
        """`feed` every packet; the common ones take the flat loop of pipeline/fastloop.py.
        `progress(n)` is called every 16384 packets."""
        feed_fast(self, packets, progress)

    def finish(self) -> Analysis:
        self.tracker.finish()
        self.records.sort(key=lambda r: r.id)
        st = self.decoder.stats
        for frame, code, message in st.malformed_frames:
            self.anomalies.append(make_anomaly(code, message, None, None, (frame,)))
        if st.snaplen_cut:
            self.anomalies.append(
                make_anomaly(
                    "capture.snaplen-truncated",
                    f"{st.snaplen_cut} TCP packets cut by the snapshot length (the first: packet "
                    f"{st.snaplen_first}); their missing bytes are tcp.gap",
                    None,
                    None,
                    (st.snaplen_first,),
                )
            )
        if st.unsupported_link:
            self.anomalies.append(
                make_anomaly("link.unsupported", f"{st.unsupported_link} packets of unsupported link types")
            )
        self.anomalies.extend(keylog_anomalies(self.options.keylog))
        if self.capture.error:
            code = "capture.truncated" if self.capture.error_kind == "truncated" else "capture.corrupt"
            self.anomalies.append(make_anomaly(code, self.capture.error))
        sessions, session_anomalies = self.sessions.finish(self._hand_over if self.on_session else None)
        if self._kept_sessions is not None:
            sessions = session_order(self._kept_sessions)
        self.anomalies.extend(session_anomalies)
        self.anomalies.sort(key=_anomaly_order)
        return Analysis(
            capture=self.capture,
            connections=self.records,
            engineio_sessions=sessions,
            anomalies=self.anomalies,
            layer_stats=self.layer_stats(),
        )

    def layer_stats(self) -> dict[str, Any]:
        st: dict[str, Any] = dict(self.decoder.stats.to_dict())
        st.update(self._app_bytes)
        st["late_packets"] = self.tracker.late_packets
        return st


def _anomaly_order(a: Anomaly) -> tuple[int, int, str]:
    return (a.frames[0] if a.frames else 1 << 62, a.connection if a.connection is not None else -1, a.code)
