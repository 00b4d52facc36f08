"""`--jobs N`: one share of a capture, in its worker process (the items and moments of
pipeline/shards.py, whose docstring says how the parent merges them)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from analyzer.capture.pcapfile import CaptureReader, RawPacket, open_capture
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.session import EngineIOSession
from analyzer.model.tempfile_fd import AppendFile
from analyzer.pipeline.groups import FlowKey
from analyzer.pipeline.handover import dump_connection, dump_session
from analyzer.pipeline.options import Options
from analyzer.pipeline.run import fewer_gc_passes, note_reader_error, with_capture_secrets
from analyzer.pipeline.sink import Sink, close_session_spills
from analyzer.pipeline.split import SessionCall
from analyzer.pipeline.wiring import Pipeline, anomaly_order
from analyzer.protocols.tls.keylog import KeyLog
from analyzer.session.builder import SessionBuilder

__all__ = [
    "ANOMALIES",
    "CALL",
    "CONNECTION",
    "END",
    "FLUSH",
    "SESSION",
    "Item",
    "Moment",
    "ShareSpec",
    "run_share",
    "run_tapped",
]

UNBOUNDED = 1 << 60  # a share's capture-wide budgets (checked against the real ones afterwards)
END = 1 << 62  # the moment of what happens after the last packet (closes at the end of the file)
_SEQ_BITS = 40  # a session's order key (first packet, sequence number) as one int

CALL, CONNECTION, FLUSH, SESSION, ANOMALIES = 0, 1, 2, 3, 4  # item kinds
Moment = tuple[int, int, int]
Item = tuple[Moment, int, Any]


class _TrackedKeys(KeyLog):
    """A KeyLog that remembers which TLS sessions a share stored and which it looked for in vain
    (digests only: `run_jobs` compares them across shares; secrets never leave the process)."""

    __slots__ = ("missed", "stored")

    def __init__(self) -> None:
        super().__init__()
        self.stored: set[bytes] = set()
        self.missed: set[bytes] = set()

    def remember_session(self, session_key: bytes, master: bytes) -> None:
        if session_key:
            self.stored.add(_digest(session_key))
        super().remember_session(session_key, master)

    def recall_session(self, session_key: bytes) -> bytes | None:
        found = super().recall_session(session_key)
        if found is None and session_key:
            self.missed.add(_digest(session_key))
        return found


def _digest(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=16).digest()


class _LocalSessions(SessionBuilder):
    """The session layer of a share with local sessions: the builder of one run, which also
    notes what the parent compares across shares (`keys_met`, `handed`, `created`) and which
    anomalies its `finish` found."""

    def __init__(self, like: SessionBuilder) -> None:
        super().__init__(payloads=like.payloads, observer=like.observer)
        self.keys_met = set()
        self.handed = []
        self.finishing = False
        self.at_finish: list[Anomaly] = []

    def finish(
        self, emit: Callable[[EngineIOSession], None] | None = None
    ) -> tuple[list[EngineIOSession], list[Anomaly]]:
        self.finishing = True
        sessions, found = super().finish(emit)
        self.at_finish = found
        return sessions, found


class _Writer:
    """A share's items, pickled to its file in the order they are made."""

    def __init__(
        self, out: IO[bytes], share: int, records: bool = True, blob: AppendFile | None = None
    ) -> None:
        self.out = out
        self.blob = blob if blob is not None else AppendFile()  # the records' spilled lists
        self.share = share
        self.records = records  # False: the connections' records go to other sinks (batch)
        self.pipe: _SharePipeline | None = None
        self.mark = 0  # anomalies of the pipeline already handed on with an item
        self.of_items: set[int] = set()  # id() of those anomalies
        self.loose: list[tuple[int, int, str]] = []  # order of the session layer's without a connection
        self.first_frames: set[int] = set()  # of the sessions handed on (local sessions)
        self.handed_at = 0

    def _dump(self, item: Item) -> None:
        pickle.dump(item, self.out, protocol=pickle.HIGHEST_PROTOCOL)

    def call(self, call: SessionCall) -> None:
        assert self.pipe is not None
        self._dump((self.pipe.moment(), CALL, call))

    def flush(self, now_ts: float) -> None:
        if self.share == 0 and self.pipe is not None:  # every share looks at the same packets
            self._dump(((self.pipe.now, 2, 0), FLUSH, now_ts))

    def anomalies(self, moment: Moment, found: list[Anomaly]) -> None:
        """The session layer's anomalies (local sessions)."""
        self.of_items.update(id(a) for a in found)
        self.loose.extend(anomaly_order(a) for a in found if a.connection is None)
        if found:
            self._dump((moment, ANOMALIES, found))

    def connection(self, record: ConnectionRecord) -> None:
        pipe = self.pipe
        assert pipe is not None
        found = pipe.anomalies[self.mark :]  # what _on_close added for this connection
        self.mark = len(pipe.anomalies)
        self.of_items.update(id(a) for a in found)
        if self.records:
            dump_connection((pipe.moment(), CONNECTION), found, record, self.out, self.blob)

    def session(self, record: EngineIOSession) -> None:
        pipe = self.pipe
        assert pipe is not None
        sessions = pipe.sessions
        if isinstance(sessions, _LocalSessions):  # local sessions: in the order the builder hands them
            assert sessions.handed is not None
            frame, seq = sessions.handed[self.handed_at]
            self.handed_at += 1
            self.first_frames.add(frame)
            order = (frame << _SEQ_BITS) | min(seq, (1 << _SEQ_BITS) - 1)
            moment = (END, 3, order) if sessions.finishing else (pipe.now, 2, order)
            dump_session((moment, SESSION), record, self.out, self.blob)
        close_session_spills(record)  # (with the session layer's input tapped: not called)

    def finish(self, summary: Analysis) -> None:
        pass


class _SharePipeline(Pipeline):
    """The Pipeline of a share: it knows the moment (module docstring) of what it makes."""

    def __init__(
        self, capture: CaptureInfo, options: Options, writer: _Writer, local: bool, *sinks: Sink
    ) -> None:
        super().__init__(capture, options, writer, *sinks)
        self.writer = writer
        self.now = 0  # the packet being read (END after the last)
        self.closes = 0
        self.closing = False
        if local:
            self.sessions = _LocalSessions(self.sessions)

    def moment(self) -> Moment:
        return (self.now, 0 if self.closing else 1, self.closes)

    def _on_close(self, conn: Any) -> None:
        self.closes += 1
        self.closing = True
        try:
            super()._on_close(conn)
        finally:
            self.closing = False

    def flush_sessions(self, now_ts: float) -> None:
        sessions = self.sessions
        if not isinstance(sessions, _LocalSessions):
            self.writer.flush(now_ts)
            super().flush_sessions(now_ts)
            return
        done, found = sessions.flush(now_ts)
        self.anomalies.extend(found)
        self.writer.anomalies((self.now, 2, -1), found)
        self.writer.mark = len(self.anomalies)
        for s in done:
            self._hand_over(s)
        assert sessions.handed is not None
        sessions.handed.clear()
        self.writer.handed_at = 0

    def packets(self, reader: Iterable[RawPacket]) -> Iterator[RawPacket]:
        for pkt in reader:
            self.now = pkt.frame
            yield pkt
        self.now = END


@dataclasses.dataclass(frozen=True)
class ShareSpec:
    path: str
    share: int
    shares: int
    by_client: bool
    options: Options  # without observer or tap
    out: str  # items; `out + ".summary"`: what the share used; `out + ".error"`: why it failed
    groups: dict[FlowKey, int] | None = None  # each connection's share (pipeline/groups.py)
    local: bool = False  # local sessions (module docstring of pipeline/shards.py)

    def __repr__(self) -> str:  # the options' key log stays out of any message
        return f"ShareSpec({self.path!r}, share {self.share}/{self.shares})"


def _share_options(spec: ShareSpec) -> Options:
    """The options of a share of `run_jobs`: its part, and the capture-wide budgets unbounded (what
    it used is compared with them afterwards, `_exact`)."""
    opts = spec.options
    conn_inflate = opts.inflate_connection_budget_bytes
    return dataclasses.replace(
        opts,
        flow_share=(spec.share, spec.shares),
        share_by_client=spec.by_client,
        share_groups=spec.groups,
        observer=None,
        inflate_budget_bytes=UNBOUNDED,
        inflate_connection_budget_bytes=(
            opts.inflate_budget_bytes // 16 if conn_inflate is None else conn_inflate
        ),
        max_frame_records_capture=UNBOUNDED,
    )


def run_tapped(
    reader: CaptureReader,
    options: Options,
    share: int,
    items: IO[bytes],
    *sinks: Sink,
    progress: Callable[[int], None] | None = None,
    local: bool = False,
    blob: AppendFile | None = None,
) -> tuple[Analysis, Pipeline]:
    """A run of a share (`options.flow_share` set): its items (module docstring) to `items`; the
    connections' records there too without `sinks`, else to them (`socketscope batch`). The
    summary (its anomalies: the capture's and those of this share's connections) and the pipeline
    (what it used of the capture-wide budgets). `local`: local sessions (the session layer runs
    here and its records and anomalies are items), else its input is tapped. `blob`: where the
    records' spilled lists go (pipeline/handover.py)."""
    writer = _Writer(items, share, records=not sinks, blob=blob)
    options = with_capture_secrets(options, reader)
    if not local:
        options = dataclasses.replace(options, session_tap=writer.call)
    if options.keylog is not None and not isinstance(options.keylog, _TrackedKeys):
        keys = _TrackedKeys()
        keys.merge(options.keylog)
        options.keylog = keys
    info = CaptureInfo(path=reader.path, format=reader.format)
    with fewer_gc_passes():
        pipe = _SharePipeline(info, options, writer, local, *sinks)
        writer.pipe = pipe
        pipe.feed_all(pipe.packets(reader), progress)
        note_reader_error(info, reader)
        summary = pipe.finish()
        if isinstance(pipe.sessions, _LocalSessions):
            writer.anomalies((END, 4, 0), pipe.sessions.at_finish)
    for sink in sinks:
        sink.finish(summary)
    if not sinks:  # the connections' anomalies went with their records
        summary.anomalies = [a for a in summary.anomalies if id(a) not in writer.of_items]
    return summary, pipe


def run_share(spec: ShareSpec, progress: Callable[[int], None] | None = None) -> None:
    """One share of `run_jobs`: its items to `spec.out`, what it used of the capture-wide bounds
    (and the capture's summary) to `spec.out + ".summary"`."""
    reader = open_capture(spec.path)
    blob = AppendFile()
    blob.fd = os.open(spec.out + ".blob", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(spec.out, "wb") as fh:
            summary, pipe = run_tapped(
                reader, _share_options(spec), spec.share, fh, progress=progress, local=spec.local, blob=blob
            )
    finally:
        blob.close()
    keys = pipe.options.keylog
    sessions = pipe.sessions
    writer = pipe.sinks[0]
    assert isinstance(writer, _Writer)
    used = {
        "capture": summary.capture,
        "anomalies": summary.anomalies,  # the capture's (the connections' went with their records)
        "layer_stats": summary.layer_stats,
        "inflated": pipe.inflate_budget.kept,
        "frames": pipe.frame_budget.limit - pipe.frame_budget.left,
        "stored": keys.stored if isinstance(keys, _TrackedKeys) else set(),
        "missed": keys.missed if isinstance(keys, _TrackedKeys) else set(),
        # local sessions (empty otherwise): what `_exact` compares across shares
        "keys_met": sessions.keys_met or set(),
        "created": sessions.created,
        "max_sessions": sessions.max_sessions,
        "first_frames": writer.first_frames,
        "loose": set(writer.loose),
    }
    with open(spec.out + ".summary", "wb") as fh:
        pickle.dump(used, fh, protocol=pickle.HIGHEST_PROTOCOL)
