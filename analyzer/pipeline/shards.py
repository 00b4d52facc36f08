"""One capture, several processes (`--jobs N`), one output: the same bytes as one run.

Each share (pipeline/split.py) is a run of the whole pipeline over the whole file that decodes
the application layer of its connections only (`Options.flow_share`) and hands the session
layer's input to a tap instead of stitching sessions (`Options.session_tap`). What a share makes
is written, in the order it is made, to a file of *items*: a connection's record (with its
anomalies, and its spilled frames and messages copied after it), a call into the session layer,
and (share 0) each look for finished sessions. Every item carries a *moment* that every share
counts alike, because every share reads every packet and tracks every connection:

    (packet being read, 0 inside a connection's close / 1 else / 2 a look for sessions, closes so far)

Inside one packet the tracker closes connections (expiry, port reuse, a full table) before it
hands the packet's bytes on, and the look for finished sessions comes after both. Merged by
moment (`merge_items`; each share's own order is kept), the items come in the order one run
makes them; `Replay` hands them to one SessionBuilder and to the sinks exactly as one run's
Pipeline does, so the outputs are byte for byte those of one process.

Capture-wide bounds are shared by connections of different shares: the inflate budget and the
frame records' budget (docs/bounds.md), and TLS 1.2 resumption (one connection remembers a
master secret another recalls). A share runs them unbounded and reports what it used; when the
shares together went past a bound, or a resumption crossed shares, the merged output could
differ from one run's, so `run_jobs` returns None and the caller runs one process instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import os
import pickle
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from analyzer.capture.pcapfile import CaptureReader, RawPacket, open_capture
from analyzer.model.analysis import Analysis, CaptureInfo, ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.facts import LayerStats
from analyzer.model.session import EngineIOSession
from analyzer.model.spill import JsonSpill, RecordList
from analyzer.pipeline.options import Options
from analyzer.pipeline.run import fewer_gc_passes, note_reader_error, with_capture_secrets
from analyzer.pipeline.sink import Sink, close_connection_spills, close_session_spills
from analyzer.pipeline.split import SessionCall
from analyzer.pipeline.wiring import Pipeline, anomaly_order
from analyzer.protocols.tls.keylog import KeyLog
from analyzer.session.builder import SessionBuilder
from analyzer.session.payloads import PayloadStore

__all__ = [
    "CALL",
    "CONNECTION",
    "FLUSH",
    "SMALL_CAPTURE_BYTES",
    "JobsError",
    "Replay",
    "ShareSpec",
    "default_jobs",
    "merge_items",
    "read_items",
    "run_jobs",
    "run_share",
    "run_tapped",
]

SMALL_CAPTURE_BYTES = 8 << 20  # below it `--jobs` runs one process: starting workers costs more
# False: the shares run one after the other in this process, through the same code (the tests of
# every capture, which would otherwise spend their time starting processes)
PROCESSES = True
UNBOUNDED = 1 << 60  # a share's capture-wide budgets (checked against the real ones afterwards)
END = 1 << 62  # the moment of what happens after the last packet (closes at the end of the file)
_CHUNK = 1 << 20

CALL, CONNECTION, FLUSH = 0, 1, 2  # item kinds
Moment = tuple[int, int, int]
Item = tuple[Moment, int, Any]


class JobsError(Exception):
    """A worker process failed: one sentence."""


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------------------
# a share, in its worker process


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


class _Writer:
    """A share's items, pickled to its file in the order they are made."""

    def __init__(self, out: IO[bytes], share: int, records: bool = True) -> None:
        self.out = out
        self.share = share
        self.records = records  # False: the connections' records go to other sinks (batch)
        self.pipe: _SharePipeline | None = None
        self.mark = 0  # anomalies of the pipeline already handed on with a connection
        self.of_connections: set[int] = set()  # id() of those anomalies
        self.app_bytes: dict[str, int] = {}

    def _dump(self, item: Item) -> None:
        pickle.dump(item, self.out, protocol=pickle.HIGHEST_PROTOCOL)

    def call(self, call: SessionCall) -> None:
        assert self.pipe is not None
        self._dump((self.pipe.moment(), CALL, call))

    def flush(self, now_ts: float) -> None:
        if self.share == 0 and self.pipe is not None:  # every share looks at the same packets
            self._dump(((self.pipe.now, 2, 0), FLUSH, now_ts))

    def connection(self, record: ConnectionRecord) -> None:
        pipe = self.pipe
        assert pipe is not None
        found = pipe.anomalies[self.mark :]  # what _on_close added for this connection
        self.mark = len(pipe.anomalies)
        self.of_connections.update(id(a) for a in found)
        if not self.records:
            return
        spilled = _detach(record)
        try:
            lists = [(n, c, f, la) for n, c, f, la, _ in spilled]
            self._dump((pipe.moment(), CONNECTION, (record, found, lists)))
        finally:
            for name, _, _, _, lst in spilled:
                setattr(record.websocket, name, lst)
        for *_, lst in spilled:
            backing = lst.backing
            assert backing is not None
            for piece in backing.pieces():  # the list's JSON text, in blocks, then None
                if piece:
                    pickle.dump(piece, self.out, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(None, self.out)

    def session(self, record: EngineIOSession) -> None:  # the tap takes the sessions' input
        close_session_spills(record)

    def finish(self, summary: Analysis) -> None:
        pass


def _detach(record: ConnectionRecord) -> list[tuple[str, int, Any, Any, RecordList[Any]]]:
    """The record's lists that are written to disk, replaced by empty ones for pickling (the
    caller puts them back): (attribute, count, first, last, list)."""
    ws = record.websocket
    out: list[tuple[str, int, Any, Any, RecordList[Any]]] = []
    if ws is None:
        return out
    for name in ("frames", "messages"):
        lst: RecordList[Any] = getattr(ws, name)
        if not lst.in_memory:
            out.append((name, len(lst), lst.first, lst.last, lst))
            setattr(ws, name, RecordList())
    return out


class _SharePipeline(Pipeline):
    """The Pipeline of a share: it knows the moment (module docstring) of what it makes."""

    def __init__(self, capture: CaptureInfo, options: Options, writer: _Writer, *sinks: Sink) -> None:
        super().__init__(capture, options, writer, *sinks)
        self.writer = writer
        self.now = 0  # the packet being read (END after the last)
        self.closes = 0
        self.closing = False

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
        self.writer.flush(now_ts)
        super().flush_sessions(now_ts)

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
) -> tuple[Analysis, Pipeline]:
    """A run of a share (`options.flow_share` set): its items (module docstring) to `items`; the
    connections' records there too without `sinks`, else to them (`socketscope batch`). The
    summary (its anomalies: the capture's and those of this share's connections) and the pipeline
    (what it used of the capture-wide budgets)."""
    writer = _Writer(items, share, records=not sinks)
    options = dataclasses.replace(with_capture_secrets(options, reader), session_tap=writer.call)
    if options.keylog is not None and not isinstance(options.keylog, _TrackedKeys):
        keys = _TrackedKeys()
        keys.merge(options.keylog)
        options.keylog = keys
    info = CaptureInfo(path=reader.path, format=reader.format)
    with fewer_gc_passes():
        pipe = _SharePipeline(info, options, writer, *sinks)
        writer.pipe = pipe
        pipe.feed_all(pipe.packets(reader), progress)
        note_reader_error(info, reader)
        summary = pipe.finish()
    for sink in sinks:
        sink.finish(summary)
    if not sinks:  # the connections' anomalies went with their records
        summary.anomalies = [a for a in summary.anomalies if id(a) not in writer.of_connections]
    return summary, pipe


def run_share(spec: ShareSpec, progress: Callable[[int], None] | None = None) -> None:
    """One share of `run_jobs`: its items to `spec.out`, what it used of the capture-wide bounds
    (and the capture's summary) to `spec.out + ".summary"`."""
    reader = open_capture(spec.path)
    with open(spec.out, "wb") as fh:
        summary, pipe = run_tapped(reader, _share_options(spec), spec.share, fh, progress=progress)
    keys = pipe.options.keylog
    used = {
        "capture": summary.capture,
        "anomalies": summary.anomalies,  # the capture's (the connections' went with their records)
        "layer_stats": summary.layer_stats,
        "inflated": pipe.inflate_budget.kept,
        "frames": pipe.frame_budget.limit - pipe.frame_budget.left,
        "stored": keys.stored if isinstance(keys, _TrackedKeys) else set(),
        "missed": keys.missed if isinstance(keys, _TrackedKeys) else set(),
    }
    with open(spec.out + ".summary", "wb") as fh:
        pickle.dump(used, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _share_main(spec: ShareSpec) -> None:
    """A worker process: the parent ends it (Ctrl-C is the parent's to handle)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run_share(spec)
    except BaseException as exc:
        with open(spec.out + ".error", "w", encoding="utf-8") as fh:
            fh.write(f"{type(exc).__name__}: {exc}")
        raise SystemExit(1) from None


# ---------------------------------------------------------------------------------------------------------
# the merge, in the parent


def read_items(path: str) -> Iterator[Item]:
    """A share's items, in its order; a connection's spilled lists are read back into new spill
    files (memory: one block at a time)."""
    with open(path, "rb") as fh:
        while True:
            try:
                item: Item = pickle.load(fh)
            except EOFError:
                return
            if item[1] == CONNECTION:
                record, _, lists = item[2]
                for name, count, first, last in lists:
                    spill = JsonSpill()
                    if count:
                        spill.begin()  # one record whose text is all of the list's: then its count
                    while (piece := pickle.load(fh)) is not None:
                        spill.append(piece)
                    spill.count = count
                    setattr(record.websocket, name, RecordList.written(spill, first, last))
            yield item


def merge_items(streams: Iterable[Iterator[Item]]) -> Iterator[Item]:
    """The items of every share in the order one run makes them (module docstring)."""
    return heapq.merge(*streams, key=lambda item: item[0])


class Replay:
    """What one run's Pipeline does with the session layer's input and the finished records,
    done with the merged items of the shares: calls into one SessionBuilder, records and finished
    sessions to the sinks, anomalies in one run's order."""

    def __init__(self, builder: SessionBuilder, *sinks: Sink) -> None:
        self.builder = builder
        self.sinks = sinks
        self.anomalies: list[Anomaly] = []
        self.app_bytes: dict[str, int] = {}

    def item(self, item: Item) -> None:
        _, kind, value = item
        if kind == CALL:
            name, args, _, _ = value
            getattr(self.builder, name)(*args)
        elif kind == FLUSH:
            sessions, found = self.builder.flush(value)
            self.anomalies.extend(found)
            for s in sessions:
                self.hand_session(s)
        else:
            record, found, _ = value
            self.anomalies.extend(found)
            for k, v in record.layer_bytes.items():
                self.app_bytes[k] = self.app_bytes.get(k, 0) + v
            for sink in self.sinks:
                sink.connection(record)
            close_connection_spills(record)

    def hand_session(self, session: EngineIOSession) -> None:
        for sink in self.sinks:
            sink.session(session)
        close_session_spills(session)

    def finish(self, capture_anomalies: list[Anomaly]) -> list[Anomaly]:
        """After the last item: the anomalies of the capture (one run's Pipeline.finish adds them
        after closing every connection), then the sessions still open; sorted as one run's."""
        self.anomalies.extend(capture_anomalies)
        _, found = self.builder.finish(self.hand_session)
        self.anomalies.extend(found)
        self.anomalies.sort(key=anomaly_order)
        return self.anomalies


def _layer_stats(first: LayerStats, app: dict[str, int]) -> LayerStats:
    """A share's layer statistics (the packets' counts: the same in every share) with the bytes
    of the application layers of all shares, keys in the order Pipeline.layer_stats writes them."""
    st: dict[str, Any] = dict(first)
    last = ("late_packets", "stray_resets", "evicted_connections")
    tail: dict[str, Any] = {k: st.pop(k) for k in last if k in st}
    for k in ("http_bytes", "websocket_header_bytes", "websocket_payload_bytes"):
        st.pop(k, None)
        if k in app:
            st[k] = app[k]
    st.update(tail)
    return st  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------------
# the processes


def clients_spread(path: str, jobs: int, packets: int = 20_000) -> bool:
    """Whether the capture's first packets show clients enough (4 per process) to share the
    connections out by client address; else (e.g. one client, as on loopback) by connection."""
    from analyzer.decode.packet import ACK, SYN, PacketDecoder

    clients: set[bytes] = set()
    decoder = PacketDecoder()
    reader = open_capture(path)
    try:
        for i, pkt in enumerate(reader):
            if i >= packets or len(clients) >= 4 * jobs:
                break
            seg = decoder.decode(pkt)
            if seg is not None and seg.flags & (SYN | ACK) == SYN:  # the client's SYN (RFC 9293 §3.5)
                clients.add(seg.src)
    finally:
        reader.close()
    return len(clients) >= 4 * jobs


def run_jobs(
    path: str,
    options: Options,
    *sinks: Sink,
    jobs: int,
    progress: Callable[[int], None] | None = None,
    by_client: bool | None = None,
) -> Analysis | None:
    """`run` over the capture at `path` with `jobs` worker processes: the same calls of the
    sinks, the same summary. None (nothing handed to the sinks) when the shares went past a
    capture-wide bound (module docstring): the caller runs one process. JobsError if a worker
    failed; on any exception (Ctrl-C too) the workers are ended. `by_client`: share connections
    out by client address (None: when `clients_spread`)."""
    import multiprocessing

    # no fork of this process (it may have threads). Each worker imports the pipeline (about 0.4 CPU
    # s, in parallel); a forkserver would import it once, but its workers' CPU time is not counted
    # in this process's children (wait4, the benchmarks' measure), so it would be hidden. Share 0
    # runs here, while the workers run the others: one interpreter fewer to start.
    ctx = multiprocessing.get_context("spawn")
    tmp = tempfile.mkdtemp(prefix="socketscope-jobs-")
    procs: list[Any] = []
    try:
        base = dataclasses.replace(options, observer=None, session_tap=None, flow_share=None)
        if by_client is None:
            by_client = clients_spread(path, jobs)
        specs = [
            ShareSpec(path, k, jobs, by_client, base, os.path.join(tmp, f"share-{k}")) for k in range(jobs)
        ]
        for spec in specs[1:] if PROCESSES else ():
            p = ctx.Process(target=_share_main, args=(spec,), daemon=True)
            p.start()
            procs.append(p)
        used = [_in_process(specs[0], progress)]
        if PROCESSES:
            _wait(procs, progress)
            used += _results(procs, specs[1:])
        else:
            used += [_in_process(spec, None) for spec in specs[1:]]
        if not _exact(used, options):
            return None
        summary = _merge(tmp, used, options, sinks)
    finally:
        for p in procs:  # only the processes started here, by their PID
            if p.is_alive():
                p.terminate()
            p.join()
        shutil.rmtree(tmp, ignore_errors=True)
    for sink in sinks:
        sink.finish(summary)
    return summary


def _in_process(spec: ShareSpec, progress: Callable[[int], None] | None) -> dict[str, Any]:
    try:
        run_share(spec, progress)
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise JobsError(f"share {spec.share + 1} of {spec.shares} failed: {why}") from exc
    with open(spec.out + ".summary", "rb") as fh:
        used: dict[str, Any] = pickle.load(fh)
    return used


def _wait(procs: list[Any], progress: Callable[[int], None] | None) -> None:
    """Until every worker is done (or one failed: the others are ended by the caller); the
    progress bar is told that this process's share is done (-1)."""
    while True:
        if progress is not None:
            progress(-1)
        if not any(p.is_alive() for p in procs):
            return
        for p in procs:
            p.join(0.1)
            if p.exitcode not in (None, 0):
                return


def _results(procs: list[Any], specs: list[ShareSpec]) -> list[dict[str, Any]]:
    for spec, p in zip(specs, procs, strict=True):
        if p.exitcode not in (None, 0):
            try:
                with open(spec.out + ".error", encoding="utf-8") as fh:
                    why = fh.read(2000)
            except OSError:
                code = p.exitcode
                why = f"it ended with {f'signal {-code}' if code < 0 else f'exit code {code}'}"
            raise JobsError(f"worker process for share {spec.share + 1} of {spec.shares} failed: {why}")
    out = []
    for spec in specs:
        with open(spec.out + ".summary", "rb") as fh:
            out.append(pickle.load(fh))
    return out


def _exact(used: list[dict[str, Any]], options: Options) -> bool:
    """Whether the merge is one run's: no capture-wide bound that the shares together went past,
    no TLS session stored by one share and looked for by another (module docstring)."""
    frames = options.max_frame_records_capture
    frames = 10 * options.max_frame_records if frames is None else frames
    if sum(u["inflated"] for u in used) > options.inflate_budget_bytes:
        return False
    if sum(u["frames"] for u in used) > frames:
        return False
    for i, u in enumerate(used):
        for j, v in enumerate(used):
            if i != j and (u["stored"] & v["stored"] or u["missed"] & v["stored"]):
                return False
    return True


def _merge(tmp: str, used: list[dict[str, Any]], options: Options, sinks: tuple[Sink, ...]) -> Analysis:
    spill = bool(sinks) and options.spill_records  # as Pipeline: session payloads wait on disk
    store = PayloadStore(spill_packets=options.spill_session_packets) if spill else None
    replay = Replay(SessionBuilder(payloads=store), *sinks)
    with fewer_gc_passes():
        for item in merge_items(read_items(os.path.join(tmp, f"share-{k}")) for k in range(len(used))):
            replay.item(item)
    first = used[0]
    anomalies = replay.finish(first["anomalies"])
    return Analysis(
        capture=first["capture"],
        anomalies=anomalies,
        layer_stats=_layer_stats(first["layer_stats"], replay.app_bytes),
    )
