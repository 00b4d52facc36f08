"""One task of a batch: a capture (or one share of a split capture) into Parquet files.

`analyze_share(spec)` runs the pipeline over the capture with a DatasetSink writing into the
capture's staging directory (part number = share); a split capture's shares also write the
session layer's input (pipeline/split.py) to `calls-<k>.pickle`, and `merge_sessions` replays
those of every share, merged in the order one run makes them (pipeline/shards.py, the merge of
`--jobs`), into one SessionBuilder whose sessions become the session tables (part number =
shares). Results are small dicts for the client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import IO, Any

from analyzer.batch.inputs import InputError, content_hash, local_copy
from analyzer.batch.sink import CONNECTION_TABLES, SESSION_TABLES, DatasetSink, TableFiles
from analyzer.batch.tap import RowTap
from analyzer.capture.frametimes import packet_times
from analyzer.capture.pcapfile import CaptureError, open_capture
from analyzer.pipeline import Options, run
from analyzer.pipeline.shards import Replay, merge_items, read_items
from analyzer.pipeline.share import CALL, run_tapped
from analyzer.protocols.deflate import INFLATE_CAPTURE_BUDGET
from analyzer.protocols.tls.keylog import KeyLog
from analyzer.session.builder import SessionBuilder
from analyzer.session.payloads import PayloadStore

__all__ = ["TaskSpec", "analyze_share", "merge_sessions"]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    location: str  # a local path or a URL
    capture_id: str
    staging: str  # the capture's staging directory (renamed into the dataset when complete)
    share: int = 0
    shares: int = 1
    decode_as: dict[int, str] = field(default_factory=dict)
    keylogs: tuple[tuple[bytes, str], ...] = ()  # (text, name) of each --keylog file; never printed
    inflate_budget_bytes: int = INFLATE_CAPTURE_BUDGET

    def __repr__(self) -> str:  # the key logs stay out of logs and dashboards
        return f"TaskSpec({self.location!r}, share {self.share}/{self.shares})"


def _options(spec: TaskSpec, record_tap: RowTap | None = None) -> Options:
    keys = None
    if spec.keylogs:
        keys = KeyLog()
        for text, name in spec.keylogs:
            keys.add_text(text, name)
    split = spec.shares > 1
    return Options(
        decode_as=dict(spec.decode_as),
        spill_records=True,
        keylog=keys,
        inflate_budget_bytes=spec.inflate_budget_bytes,
        flow_share=(spec.share, spec.shares) if split else None,
        record_tap=record_tap,
    )


def analyze_share(spec: TaskSpec) -> dict[str, Any]:
    """Analyze the capture (or its share). A file that is not a capture, or cannot be read, is a
    result with `error` (not an exception: retrying would not help); anything else raises, and the
    engine retries the task. Share 0 also gives the size and SHA-256 of the bytes it read (the
    client does not read the captures it sends: the hashing runs on the workers, in parallel)."""
    split = spec.shares > 1
    digest: dict[str, Any] = {}
    if spec.share == 0:
        try:
            digest["size"], digest["sha256"] = content_hash(spec.location)
        except (OSError, InputError) as exc:
            return {"share": 0, "error": f"cannot read: {getattr(exc, 'strerror', None) or exc}"}
    tables = (*CONNECTION_TABLES, "anomalies", *(() if split else SESSION_TABLES))
    os.makedirs(spec.staging, exist_ok=True)
    calls_path = os.path.join(spec.staging, f"calls-{spec.share}.pickle") if split else None
    calls: IO[bytes] | None = None
    try:
        with local_copy(spec.location) as path:
            try:
                reader = open_capture(path)
            except CaptureError as exc:
                return {**digest, "share": spec.share, "error": f"not a readable capture: {exc}"}
            files = TableFiles(spec.staging, spec.capture_id, spec.share, tables)
            sink = DatasetSink(files, sessions=not split, global_anomalies=spec.share == 0)
            if calls_path is not None:
                calls = open(calls_path, "wb")  # noqa: SIM115 - closed below
            try:
                options = _options(spec, RowTap(files, sessions=not split))
                if calls is not None:  # the session layer's input, in its moments (pipeline/shards.py)
                    summary, _ = run_tapped(reader, options, spec.share, calls, sink)
                else:
                    summary = run(reader, options, sink)
                sink.write_anomalies(packet_times(path, sink.anomaly_frames()))
            except BaseException:
                files.abort()
                raise
            files.close()
    except InputError as exc:
        return {**digest, "share": spec.share, "error": str(exc)}
    finally:
        if calls is not None:
            calls.close()
    info = summary.capture.to_dict()
    info["path"] = spec.location
    return {
        **digest,
        "share": spec.share,
        "error": None,
        "capture": info,
        "connections": sink.n_connections,
        "sessions": sink.n_sessions,
        "anomalies": sink.n_anomalies,
        "calls": calls_path,
    }


def merge_sessions(spec: TaskSpec, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The sessions of a split capture: the session layer's input of every share, merged in the
    order one run makes it (each share's own order kept), replayed into one SessionBuilder."""
    paths = [r["calls"] for r in sorted(results, key=lambda r: r["share"]) if r.get("calls")]
    files = TableFiles(spec.staging, spec.capture_id, spec.shares, (*SESSION_TABLES, "anomalies"))
    sink = DatasetSink(files)
    replay = Replay(SessionBuilder(payloads=PayloadStore()), sink)
    try:
        for item in merge_items(read_items(p) for p in paths):
            replay.item(item)
        sink.anomalies(replay.finish([]))
        sink.write_anomalies(_call_times(paths, sink.anomaly_frames()))
    except BaseException:
        files.abort()
        raise
    files.close()  # the calls files stay until the commit (a rerun of this task reads them again)
    return {"share": spec.shares, "sessions": sink.n_sessions, "anomalies": sink.n_anomalies}


def _call_times(paths: list[str], frames: set[int]) -> dict[int, float]:
    """As packet_times, from the session layer's input that the shares wrote (the packets the
    session layer saw: those its anomalies name)."""
    out: dict[int, float] = {}
    for p in paths if frames else ():
        for _, kind, call in read_items(p):
            if kind == CALL and call[2] in frames:
                out[call[2]] = call[3]
    return out
