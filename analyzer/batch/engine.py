"""The batch engine: captures to the dataset on a Dask cluster.

By default a `distributed.LocalCluster` (one single-threaded worker process per core); with a
scheduler address, an existing cluster (its workers must see the inputs and the dataset at the
same paths, or read URLs). One capture is one task; a capture larger than `split_bytes` is split
into shares by flow hash (pipeline/split.py), one task each, and a last task merges their
Engine.IO sessions. A task that raises is retried (`retries`), and a worker that dies has its
tasks run again elsewhere (Dask); a capture whose tasks still fail is written to `captures`
with its error, and the batch goes on. Each capture is committed (dataset.py) by the client when
all its tasks are done, so nothing is written twice and nothing half.

The client reads no capture it does not have to: share 0 of each task hashes the capture it
analyzes, and the client hashes only those the dataset holds at the same size (changed or not,
only the hash can tell), while the workers already run the others. The embedded cluster runs with
EMBEDDED_CONFIG (what Dask does by default that costs a batch CPU: docs/dataset.md).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analyzer.batch.dataset import Dataset, DatasetError, capture_id, now_micros
from analyzer.batch.inputs import InputError, Source, content_hash
from analyzer.batch.schema import SCHEMA_VERSION
from analyzer.batch.task import TaskSpec, analyze_share, merge_sessions
from analyzer.version import __version__

__all__ = ["EMBEDDED_CONFIG", "BatchResult", "EngineError", "open_client", "run_batch"]

SPLIT_BYTES = 1 << 30  # captures above this are split by flow hash
MAX_SHARES = 64
OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG)


class EngineError(Exception):
    """The batch cannot run (scheduler unreachable, dataset not writable): one sentence."""


@dataclass
class BatchResult:
    added: int = 0  # captures written (new or changed)
    failed: int = 0  # of those, written with an error
    unchanged: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (location, error)
    dashboard: str | None = None


@dataclass
class _Capture:
    source: Source
    cid: str
    staging: str
    shares: int
    futures: list[Any] = field(default_factory=list)


# The embedded cluster only (an existing cluster keeps its own configuration): what a batch of
# whole-file tasks does not need, measured on the tree's CPU (docs/dataset.md, "The engine's
# overhead"). Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in each worker, so that glibc gives
# memory back at once: a task's buffers are then faulted in again and again (5x the page faults,
# seconds of system time a batch); glibc's own adaptive threshold is kept instead. The statistical
# profiler (a stack sample every 10 ms, for the dashboard's profile tab), the 20 ms event-loop
# tick, and the memory and system monitors wake every worker between the tasks' instructions.
EMBEDDED_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def open_client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """A Dask client of the scheduler, or of a new LocalCluster (EMBEDDED_CONFIG) with `workers`
    single-threaded worker processes (default: one per core), and that cluster (None for a
    scheduler). The caller closes both."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout="5s"), None  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    n = workers or os.cpu_count() or 1
    with dask.config.set(EMBEDDED_CONFIG):  # read by the scheduler and nannies as they start
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            host="127.0.0.1",
            silence_logs=50,
        )
    return Client(cluster), cluster  # type: ignore[no-untyped-call]


def _shares(size: int, split_bytes: int) -> int:
    return max(1, min(MAX_SHARES, -(-size // split_bytes))) if split_bytes > 0 else 1


def _submit(client: Any, spec: TaskSpec, shares: int, retries: int) -> list[Any]:
    from dataclasses import replace

    futs = [
        client.submit(analyze_share, replace(spec, share=k, shares=shares), retries=retries, pure=False)
        for k in range(shares)
    ]
    if shares > 1:
        futs.append(
            client.submit(merge_sessions, replace(spec, shares=shares), futs, retries=retries, pure=False)
        )
    return futs


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())[:500]


def _output_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS


def run_batch(
    sources: list[Source],
    out: str,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    split_bytes: int = SPLIT_BYTES,
    retries: int = 1,
    spec_args: dict[str, Any] | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
    on_dashboard: Callable[[str], None] | None = None,
) -> BatchResult:
    """Write the new and changed captures of `sources` into the dataset `out`. `progress(done,
    total, bytes_done, bytes_total)` after each capture. EngineError / DatasetError stop it."""
    ds = Dataset(out)
    ds.create()
    result = BatchResult()
    with ds.locked():
        todo, check = _plan(sources, ds.state(), result)
        if not todo:  # nothing new for sure: hash what may have changed before starting a cluster
            todo, check = _changed(check, result), []
        if not todo:
            return result
        client, cluster = open_client(scheduler, workers)
        try:
            result.dashboard = client.dashboard_link
            if on_dashboard is not None and result.dashboard:
                on_dashboard(result.dashboard)
            _run(_Job(client, ds, split_bytes, retries, spec_args or {}), todo, check, result, progress)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return result


def _plan(
    sources: list[Source], held: dict[str, dict[str, Any]], result: BatchResult
) -> tuple[list[Source], list[tuple[Source, str]]]:
    """The captures to analyze for sure (new, failed before, or of another size), and those held
    at the same size, with their stored hash: changed only if their content hash differs."""
    todo: list[Source] = []
    check: list[tuple[Source, str]] = []
    for s in sources:
        row = held.get(capture_id(s.location))
        if row is None or row["error"] is not None or row["size"] != s.size:
            todo.append(s)
        elif s.sha256 is None:
            check.append((s, row["sha256"]))
        elif s.sha256 == row["sha256"]:
            result.unchanged += 1
        else:
            todo.append(s)
    return todo, check


def _changed(check: list[tuple[Source, str]], result: BatchResult) -> list[Source]:
    """Those of `check` whose content changed (hashed here: the size alone cannot tell); the others
    count as unchanged. One that cannot be read now is analyzed again (its task says why)."""
    out: list[Source] = []
    for s, held_sha in check:
        try:
            size, digest = content_hash(s.location)
        except (OSError, InputError):
            out.append(s)
            continue
        if (size, digest) == (s.size, held_sha):
            result.unchanged += 1
        else:
            out.append(Source(s.location, size, digest))
    return out


@dataclass
class _Job:
    client: Any
    ds: Dataset
    split_bytes: int
    retries: int
    spec_args: dict[str, Any]

    def submit(
        self, sources: list[Source], pending: dict[str, _Capture], by_future: dict[Any, _Capture]
    ) -> None:
        """Largest first: the longest tasks start at once, and the last to end is a short one."""
        for s in sorted(sources, key=lambda s: -s.size):
            cid = capture_id(s.location)
            cap = _Capture(s, cid, self.ds.staging_dir(cid), _shares(s.size, self.split_bytes))
            spec = TaskSpec(s.location, cid, cap.staging, **self.spec_args)
            cap.futures = _submit(self.client, spec, cap.shares, self.retries)
            pending[cid] = cap
            for f in cap.futures:
                by_future[f] = cap


def _run(
    job: _Job,
    todo: list[Source],
    check: list[tuple[Source, str]],
    result: BatchResult,
    progress: Callable[[int, int, int, int], None] | None,
) -> None:
    from distributed import as_completed

    ds = job.ds
    os.makedirs(ds.staging, exist_ok=True)
    pending: dict[str, _Capture] = {}
    by_future: dict[Any, _Capture] = {}
    job.submit(todo, pending, by_future)  # the workers start on these ...
    more = _changed(check, result)  # ... while the client hashes those that may have changed
    job.submit(more, pending, by_future)
    total = len(pending)
    total_bytes = sum(c.source.size for c in pending.values())
    done = done_bytes = 0
    try:
        for fut in as_completed(list(by_future)):  # type: ignore[no-untyped-call]
            cap = by_future[fut]
            if cap.cid not in pending or not all(f.done() for f in cap.futures):
                continue
            del pending[cap.cid]
            _finish(ds, cap, result)
            done += 1
            done_bytes += cap.source.size
            if progress is not None:
                progress(done, total, done_bytes, total_bytes)
    except OSError as exc:
        if _output_error(exc):
            raise DatasetError(f"cannot write {ds.root}: {exc.strerror or exc}") from None
        raise
    finally:
        for f in by_future:
            f.release()


def _finish(ds: Dataset, cap: _Capture, result: BatchResult) -> None:
    outcomes: list[dict[str, Any]] = []
    error: str | None = None
    for f in cap.futures:
        exc = f.exception() if f.status == "error" else None
        if exc is not None:
            if _output_error(exc):
                ds.remove_staging(cap.staging)
                raise DatasetError(f"cannot write {ds.root}: {getattr(exc, 'strerror', None) or exc}")
            error = error or f"the analysis failed: {_one_line(exc)}"
            continue
        outcomes.append(f.result())
    error = error or next((o["error"] for o in outcomes if o.get("error")), None)
    first = next((o for o in outcomes if o.get("share") == 0 and "capture" in o), None)
    row = _captures_row(cap, outcomes, first, error)
    row["size"], row["sha256"] = _digest(cap.source, outcomes)
    if error is not None:  # only the captures row: what was written of the tables is dropped
        ds.remove_staging(cap.staging)
        os.makedirs(cap.staging, exist_ok=True)
        result.failed += 1
        result.errors.append((cap.source.location, error))
    try:
        ds.commit(cap.staging, cap.cid, row)
    except OSError as exc:
        ds.remove_staging(cap.staging)
        raise DatasetError(f"cannot write {ds.root}: {exc.strerror or exc}") from None
    result.added += 1


def _captures_row(
    cap: _Capture, outcomes: list[dict[str, Any]], first: dict[str, Any] | None, error: str | None
) -> dict[str, Any]:
    info: dict[str, Any] = (first or {}).get("capture") or {}
    return {
        "frame": 1 if info.get("packets") else None,
        "ts": _micros(info.get("first_ts")),
        "source": cap.source.location,
        "size": cap.source.size,
        "sha256": cap.source.sha256,
        "format": info.get("format"),
        "link_types": info.get("link_types"),
        "packets": info.get("packets"),
        "bytes": info.get("bytes"),
        "first_ts": _micros(info.get("first_ts")),
        "last_ts": _micros(info.get("last_ts")),
        "complete": info.get("complete") if error is None else False,
        "damage": info.get("error") if error is None else None,
        "error": error,
        "connections": sum(o.get("connections", 0) for o in outcomes) if error is None else None,
        "sessions": sum(o.get("sessions", 0) for o in outcomes) if error is None else None,
        "anomalies": sum(o.get("anomalies", 0) for o in outcomes) if error is None else None,
        "tasks": len(cap.futures),
        "analyzed_at": now_micros(),
        "tool_version": __version__,
        "schema_version": SCHEMA_VERSION,
    }


def _digest(source: Source, outcomes: list[dict[str, Any]]) -> tuple[int, str | None]:
    """Size and SHA-256 of the capture as its task read it; hashed here when no task could say
    (it kept failing); the hash is null when the capture cannot be read at all."""
    read = next((o for o in outcomes if o.get("sha256")), None)
    if read is not None:
        return int(read["size"]), str(read["sha256"])
    if source.sha256 is not None:
        return source.size, source.sha256
    try:
        return content_hash(source.location)
    except (OSError, InputError):
        return source.size, None


def _micros(ts: float | None) -> int | None:
    return None if ts is None else round(ts * 1_000_000)
