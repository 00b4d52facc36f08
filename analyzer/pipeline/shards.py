"""One capture, several processes (`--jobs N`), one output: the same bytes as one run.

Each share (pipeline/split.py) is a run of the whole pipeline over the whole file that decodes
the application layer of its connections only (`Options.flow_share`). What a share makes is
written, in the order it is made, to a file of *items*: a connection's record (with its
anomalies; its spilled frames and messages go to the share's blob file, pipeline/handover.py),
and, for the session layer, either

- (*local sessions*: the connections of each Engine.IO session are in one share, by client
  address or by the sids of pipeline/groups.py) each finished session's record and the session
  layer's anomalies: the share stitches and analyses its sessions itself; or
- (connection by connection) each call into the session layer (`Options.session_tap`) and
  (share 0) each look for finished sessions: the parent stitches the sessions.

Every item carries a *moment* that every share counts alike, because every share reads every
packet and tracks every connection:

    (packet being read, 0 inside a connection's close / 1 else / 2 a look for sessions, closes so far)

(a session handed on by a look: (packet, 2, its order key); the session layer's anomalies of a
look: (packet, 2, -1); at the end, the sessions still open: (END, 3, order key), then their
anomalies (END, 4, 0), which the parent puts after the capture's, as one run's Pipeline.finish.)

Inside one packet the tracker closes connections (expiry, port reuse, a full table) before it
hands the packet's bytes on, and the look for finished sessions comes after both. Merged by
moment (`merge_items`; each share's own order is kept), the items come in the order one run
makes them; `Replay` hands them to one SessionBuilder and to the sinks exactly as one run's
Pipeline does, so the outputs are byte for byte those of one process.

Capture-wide bounds are shared by connections of different shares: the inflate budget and the
frame records' budget (docs/bounds.md), and TLS 1.2 resumption (one connection remembers a
master secret another recalls). A share runs them unbounded and reports what it used; when the
shares together went past a bound, or a resumption crossed shares, the merged output could
differ from one run's, so `run_jobs` returns None and the caller runs one process instead. With
local sessions the same goes for the session layer's own state (session/builder.py): a session
key or sid met in two shares, more sessions than its bound, two sessions of different shares
with the same first packet (their order), two anomalies without a connection in different shares
with the same place in the sorted list (theirs).
"""

from __future__ import annotations

import dataclasses
import heapq
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from analyzer.model.analysis import Analysis
from analyzer.model.common import Anomaly
from analyzer.model.facts import LayerStats
from analyzer.model.session import EngineIOSession
from analyzer.pipeline.groups import share_groups
from analyzer.pipeline.handover import load_lists
from analyzer.pipeline.options import Options
from analyzer.pipeline.run import fewer_gc_passes
from analyzer.pipeline.share import (
    ANOMALIES,
    CALL,
    CONNECTION,
    END,
    FLUSH,
    SESSION,
    Item,
    ShareSpec,
    run_share,
)
from analyzer.pipeline.sink import Sink, close_connection_spills, close_session_spills, reads_ws_records
from analyzer.pipeline.wiring import anomaly_order
from analyzer.session.builder import SessionBuilder
from analyzer.session.payloads import PayloadStore

__all__ = [  # a share's own side (ShareSpec, run_share, the item kinds) is pipeline/share.py's
    "SMALL_CAPTURE_BYTES",
    "JobsError",
    "Replay",
    "default_jobs",
    "merge_items",
    "read_items",
    "run_jobs",
]

SMALL_CAPTURE_BYTES = 8 << 20  # below it `--jobs` runs one process: starting workers costs more
# False: the shares run one after the other in this process, through the same code (the tests of
# every capture, which would otherwise spend their time starting processes)
PROCESSES = True


class JobsError(Exception):
    """A worker process failed: one sentence."""


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


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
    """A share's items, in its order; the spilled lists of a record are copied from the share's
    blob (`path + ".blob"`) into new spill files (pipeline/handover.py)."""
    blob = -1
    try:
        with open(path, "rb") as fh:
            while True:
                try:
                    item: Item = pickle.load(fh)
                except EOFError:
                    return
                moment, kind, value = item
                if kind in (CONNECTION, SESSION) and value[-1]:  # lists in the blob
                    if blob < 0:
                        blob = os.open(path + ".blob", os.O_RDONLY)
                    record, *rest = value
                    item = (moment, kind, (load_lists(blob, record, value[-1]), *rest))
                yield item
    finally:
        if blob >= 0:
            os.close(blob)


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
        self.at_end: list[Anomaly] = []  # the session layer's anomalies found at its finish
        self.app_bytes: dict[str, int] = {}

    def item(self, item: Item) -> None:
        moment, kind, value = item
        if kind == CALL:
            name, args, _, _ = value
            getattr(self.builder, name)(*args)
        elif kind == FLUSH:
            sessions, found = self.builder.flush(value)
            self.anomalies.extend(found)
            for s in sessions:
                self.hand_session(s)
        elif kind == SESSION:
            self.hand_session(value[0])
        elif kind == ANOMALIES:  # the session layer's (local sessions); at the end after the capture's
            (self.at_end if moment[0] == END else self.anomalies).extend(value)
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
        self.anomalies.extend(self.at_end)
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
    failed; on any exception (Ctrl-C too) the workers are ended. `by_client`: True, share
    connections out by client address; False, connection by connection (the session layer then
    runs in this process); None, as pipeline/groups.py finds best: by client address when the
    capture has clients enough, else by the sids it finds (both with local sessions), else
    connection by connection."""
    import multiprocessing

    # Workers are forked when this process has no other thread (a fork copies the imported
    # pipeline: no interpreter to start); else spawned (each imports the pipeline, about 0.4 CPU s).
    # Either way they are this process's children, so their CPU time counts in its children's
    # (wait4, the benchmarks' measure), which a forkserver's would not. Share 0 runs here.
    fork = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    ctx: Any = multiprocessing.get_context("fork" if fork else "spawn")
    tmp = tempfile.mkdtemp(prefix="socketscope-jobs-")
    procs: list[Any] = []
    try:
        base = dataclasses.replace(options, observer=None, session_tap=None, flow_share=None)
        if sinks and base.spill_ws_records and not any(reads_ws_records(s) for s in sinks):
            base = dataclasses.replace(base, spill_ws_records=False)  # as Pipeline: only counted
        groups = None
        local = by_client is not False
        if by_client is None:
            groups, local, by_client = share_groups(path, jobs)
            if by_client:
                groups, local = None, True
        specs = [
            ShareSpec(path, k, jobs, by_client, base, os.path.join(tmp, f"share-{k}"), groups, local)
            for k in range(jobs)
        ]
        if fork:  # what this process has buffered is written once, by it
            sys.stdout.flush()
            sys.stderr.flush()
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
    return _sessions_exact(used)


def _sessions_exact(used: list[dict[str, Any]]) -> bool:
    """Local sessions (module docstring): each session key met in one share only, the sessions'
    bound not passed by all together, the order of sessions and anomalies decided across shares by
    their packets alone."""
    if any(u["created"] for u in used) and sum(u["created"] for u in used) > used[0]["max_sessions"]:
        return False
    for name in ("keys_met", "first_frames", "loose"):
        seen: set[Any] = set()
        for u in used:
            if seen & u[name]:
                return False
            seen |= u[name]
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
