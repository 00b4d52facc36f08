"""The one place where the layers are wired together.

RawPacket -> PacketDecoder (link/IP/TCP) -> ConnectionTracker (roles, handshake) ->
DirectionStream (reassembly) -> ConnectionApp (HTTP, WebSocket; pipeline/connection.py) ->
SessionBuilder (Engine.IO / Socket.IO) -> finished records, handed to the sinks -> Analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from analyzer.capture.pcapfile import LINKTYPE_NAMES, RawPacket
from analyzer.decode.packet import PacketDecoder, Segment
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.facts import LayerStats
from analyzer.model.registry import make_anomaly
from analyzer.model.session import EngineIOSession
from analyzer.pipeline.clock import CaptureClock
from analyzer.pipeline.connection import ConnectionApp
from analyzer.pipeline.fastloop import feed_fast
from analyzer.pipeline.frame_cap import FrameRecordBudget, FrameRecords
from analyzer.pipeline.options import Options
from analyzer.pipeline.sink import (
    Sink,
    close_connection_spills,
    close_session_spills,
    reads_ws_frames,
    reads_ws_records,
)
from analyzer.pipeline.split import SkippedApp, TapSessions, in_share
from analyzer.protocols.deflate import InflateBudget
from analyzer.session.builder import SessionBuilder
from analyzer.session.payloads import PayloadStore
from analyzer.tcp import tracker as tcp_tracker
from analyzer.tcp.tracker import ConnectionTracker, TcpConnection

__all__ = ["Pipeline", "anomaly_order"]


class Pipeline:
    """Feed packets in capture order; `finish()` returns the summary."""

    FLUSH_EVERY = 4096  # packets between two looks for finished Engine.IO sessions (streaming only)

    def __init__(self, capture: CaptureInfo, options: Options | None = None, *sinks: Sink) -> None:
        """Each finished record goes to every sink (pipeline/sink.py), then its spill files are
        closed; none is kept. `finish()` returns the summary (no connections, no sessions)."""
        self.options = options or Options()
        if sinks and self.options.spill_ws_records and not any(reads_ws_records(s) for s in sinks):
            self.options = replace(self.options, spill_ws_records=False)  # the caller's stays as it was
        if sinks and self.options.spill_ws_frames and not any(reads_ws_frames(s) for s in sinks):
            self.options = replace(self.options, spill_ws_frames=False)
        self.capture = capture
        self.decoder = PacketDecoder()
        self.clock = CaptureClock()
        table = self.options.max_connections
        table = tcp_tracker.MAX_CONNECTIONS if table is None else table
        self.tracker = ConnectionTracker(self._on_new, self._on_close, self._on_drop, table)
        opts = self.options
        self.inflate_budget = InflateBudget(opts.inflate_budget_bytes)
        self._conn_inflate = (
            opts.inflate_connection_budget_bytes
            if opts.inflate_connection_budget_bytes is not None
            else opts.inflate_budget_bytes // 16
        )
        capture_frames = opts.max_frame_records_capture
        self.frame_budget = FrameRecordBudget(
            10 * opts.max_frame_records if capture_frames is None else capture_frames
        )
        self.anomalies: list[Anomaly] = []
        self.sinks = sinks
        # streaming output: session payloads wait on disk while their sessions are open
        spill_payloads = bool(sinks) and self.options.spill_records
        store = (
            PayloadStore(spill_packets=opts.spill_session_packets, tap=opts.record_tap)
            if spill_payloads
            else None
        )
        self.sessions: SessionBuilder = (
            SessionBuilder(payloads=store, observer=opts.observer)
            if self.options.session_tap is None
            else TapSessions(self.options.session_tap)
        )
        self.linktypes: set[int] = set()  # link types seen (the fast loop reads it too)
        self._seg: Segment | None = None  # the segment being handled (a new connection's first)
        self._links: dict[int, tuple[tuple[str, ...] | None, tuple[str, int] | None]] = {}
        self._app_bytes: dict[str, int] = {}
        # packets between two looks for finished sessions, handed to the sinks as soon as they are
        # over; 0: no look (without sinks, they are analysed at finish() for their anomalies)
        self.flush_every = self.FLUSH_EVERY if sinks else 0

    # -- connections --
    def _on_new(self, conn: TcpConnection) -> ConnectionApp | SkippedApp:
        """The connection's application layer, which is also the sink of its two streams."""
        share = self.options.flow_share
        if share is not None and not in_share(conn, share, self.options.share_by_client):
            conn.app = skipped = SkippedApp()  # another run of a split capture decodes it
            return skipped
        app = ConnectionApp(
            conn,
            self.options,
            self.sessions,
            self.inflate_budget.child(self._conn_inflate),
            FrameRecords(self.options.max_frame_records, self.frame_budget),
        )
        conn.app = app
        seg = self._seg
        if seg is not None and (seg.path is not None or seg.process is not None):
            self._links[conn.id] = (seg.path, seg.process)  # its encapsulation, its PKTAP process
        return app

    def _on_close(self, conn: TcpConnection) -> None:
        if isinstance(conn.app, SkippedApp):
            self._on_drop(conn)
            return
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
        link = self._links.pop(conn.id, None)
        if link is not None:
            path, process = link
            record.encapsulation = list(path) if path is not None else None
            record.process = {"name": process[0], "pid": process[1]} if process is not None else None
        raised = len(self.anomalies)
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
        if self.options.observer is not None:
            self.options.observer.on_connection_close(record, self.anomalies[raised:])
        for sink in self.sinks:
            sink.connection(record)
        close_connection_spills(record)
        # the connection, its streams and its app refer to each other: break the cycles so that
        # reference counting frees them now (the cyclic collector runs seldom, see api.py)
        for stream in (conn.c2s, conn.s2c):
            stream.owner = None
            del stream.sink
        conn.app = None

    def _on_drop(self, conn: TcpConnection) -> None:
        """A connection without data evicted from the full table: no record, its cycles broken."""
        self._links.pop(conn.id, None)
        for stream in (conn.c2s, conn.s2c):
            stream.owner = None
            del stream.sink
        conn.app = None

    # -- packets --
    def feed(self, pkt: RawPacket) -> None:
        cap = self.capture
        self.clock.tick(pkt.frame, pkt.ts_ns)
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
            self._seg = seg
            self.tracker.handle(seg)
            for seg in self.decoder.more:  # the other A-MSDU subframes of an 802.11 frame
                self._seg = seg
                self.tracker.handle(seg)
        if self.flush_every and not cap.packets % self.flush_every:
            self.flush_sessions(pkt.ts)

    def flush_sessions(self, now_ts: float) -> None:
        """Hand the sessions that are over to the sinks (streaming output)."""
        sessions, anomalies = self.sessions.flush(now_ts)
        self.anomalies.extend(anomalies)
        for s in sessions:
            self._hand_over(s)

    def _hand_over(self, session: EngineIOSession) -> None:
        for sink in self.sinks:
            sink.session(session)
        close_session_spills(session)

    def feed_all(self, packets: Iterable[RawPacket], progress: Callable[[int], None] | None = None) -> None:
        """`feed` every packet; the common ones take the flat loop of pipeline/fastloop.py.
        `progress(n)` is called every 16384 packets."""
        feed_fast(self, packets, progress)

    def finish(self) -> Analysis:
        """The summary: the capture, the anomalies and the layer statistics (the records went to
        the sinks). The sinks' `finish` is the caller's (`run`)."""
        self.tracker.finish()
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
        went_back = self.clock.anomaly()
        if went_back is not None:
            self.anomalies.append(went_back)
        if self.tracker.evicted:
            self.anomalies.append(
                make_anomaly(
                    "tcp.table-full",
                    self.tracker.table_full(),
                    None,
                    None,
                    (self.tracker.evicted_first_frame,),
                )
            )
        if st.unsupported_link:
            kinds = "; ".join(f"{k}: {n:,}" for k, n in st.undecoded.items() if k.startswith("link type "))
            self.anomalies.append(
                make_anomaly(
                    "link.unsupported",
                    f"{st.unsupported_link:,} packets of link types socketscope does not decode ({kinds})",
                )
            )
        if self.options.keylog is not None:  # tls_step loads cryptography: not for every run
            from analyzer.pipeline.tls_step import keylog_anomalies

            self.anomalies.extend(keylog_anomalies(self.options.keylog))
        if self.capture.error:
            code = "capture.truncated" if self.capture.error_kind == "truncated" else "capture.corrupt"
            self.anomalies.append(make_anomaly(code, self.capture.error))
        _, session_anomalies = self.sessions.finish(self._hand_over)  # one session held at a time
        self.anomalies.extend(session_anomalies)
        self.anomalies.sort(key=anomaly_order)
        return Analysis(capture=self.capture, anomalies=self.anomalies, layer_stats=self.layer_stats())

    def layer_stats(self) -> LayerStats:
        st = self.decoder.stats.to_dict()
        app = self._app_bytes  # every record's layer_bytes has these keys, in this order
        if "http_bytes" in app:
            st["http_bytes"] = app["http_bytes"]
        if "websocket_header_bytes" in app:
            st["websocket_header_bytes"] = app["websocket_header_bytes"]
        if "websocket_payload_bytes" in app:
            st["websocket_payload_bytes"] = app["websocket_payload_bytes"]
        st["late_packets"] = self.tracker.late_packets
        # only when not 0: bounds hit (docs/bounds.md)
        if self.tracker.stray_resets:
            st["stray_resets"] = self.tracker.stray_resets
        if self.tracker.evicted:
            st["evicted_connections"] = self.tracker.evicted
        return st


def anomaly_order(a: Anomaly) -> tuple[int, int, str]:
    return (a.frames[0] if a.frames else 1 << 62, a.connection if a.connection is not None else -1, a.code)
