"""Captures the web UI may open, and their analyses cached by file identity.

A capture is known by an opaque id (a hash of its real path), never by its path, so a URL
can only name files of the allowed folders, the files given on the command line and
uploads. Analyses run in a background thread (one at a time) and are cached by
(path, mtime, size): reopening a capture is instant, and a file that changed is analyzed anew.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from webui.index import Index
from webui.indexbuild import IndexBuilder

if TYPE_CHECKING:
    from analyzer.model.analysis import Analysis, ConnectionRecord
    from analyzer.model.session import EngineIOSession
    from analyzer.pipeline import KeyLog

__all__ = [
    "CAPTURE_SUFFIXES",
    "CaptureEntry",
    "CaptureStore",
    "Job",
    "UploadError",
    "is_capture_magic",
]

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
MAX_KEYLOG_UPLOAD = 4 << 20  # bytes of one key log sent beside a capture (browsers write ~200 B a connection)
MAX_KEYLOG_CAPTURES = 64  # captures with uploaded keys held in memory (the oldest is forgotten)
_NAME_OK = re.compile(r"[^A-Za-z0-9._ -]+")


def is_capture_magic(head: bytes) -> bool:
    """pcap (both byte orders, µs and ns timestamps) or pcapng (Section Header Block)."""
    from analyzer.pipeline.access import is_capture_head

    return is_capture_head(head)


class UploadError(Exception):
    pass


@dataclass(slots=True)
class CaptureEntry:
    id: str
    path: str  # real path; never sent to the browser
    name: str  # what the UI shows
    source: str  # "bundled" | "cli" | "upload"

    def stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def to_dict(self) -> dict[str, Any]:
        st = self.stat()
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "size": st[1] if st else None,
            "mtime": st[0] / 1e9 if st else None,
        }


@dataclass(slots=True)
class Job:
    """One analysis, running or done."""

    key: tuple[str, int, int]
    size: int
    state: str = "running"  # "running" | "done" | "error"
    packets: int = 0
    bytes_read: int = 0
    error: str | None = None
    index: Index | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    # TLS secrets for this analysis only (serve --keylog and uploaded ones); dropped when it ends
    keylog: KeyLog | None = field(default=None, repr=False)
    keys_uploaded: int = 0  # secrets uploaded beside the capture (a count: what the page may say)

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "packets": self.packets,
            "bytes_read": self.bytes_read,
            "size": self.size,
            "error": self.error,
            "seconds": round((self.finished or time.monotonic()) - self.started, 3),
        }


def _capture_id(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class _TimedReader:
    """Wraps a CaptureReader: records each packet's timestamp (frame -> ts) and the progress."""

    def __init__(self, reader: Any, job: Job) -> None:
        self._reader = reader
        self._job = job
        self.frame_ts = array("d")
        self.path = reader.path
        self.format = reader.format

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def __iter__(self) -> Iterator[Any]:
        append = self.frame_ts.append
        job = self._job
        n = 0
        nbytes = 0
        for pkt in self._reader:
            append(pkt.ts)
            n += 1
            nbytes += len(pkt.data) + 16
            if not n & 0x3FF:
                job.packets = n
                job.bytes_read = nbytes
            yield pkt
        job.packets = n
        job.bytes_read = nbytes


class _Indexing:
    """The sink that hands each record to the IndexBuilder as the pipeline finishes it."""

    def __init__(self, builder: IndexBuilder) -> None:
        self.builder = builder

    def connection(self, record: ConnectionRecord) -> None:
        self.builder.connection(record)

    def session(self, record: EngineIOSession) -> None:
        self.builder.session(record)

    def finish(self, summary: Analysis) -> None:
        pass  # the summary is what run() returns


def _default_analyze(path: str, job: Job, inflate_budget_mb: int | None = None) -> Index:
    """Analyse a capture for the views: connections and sessions are indexed as the pipeline
    hands them over (streamed, as `analyze --format json` writes them), their records go to
    disk; memory holds the row columns and the small part of each connection and session.
    `inflate_budget_mb`: `serve --inflate-budget-mb` (docs/bounds.md)."""
    from analyzer.pipeline import Options, run
    from analyzer.pipeline.access import CaptureReader, open_capture

    timed = _TimedReader(open_capture(path), job)
    builder = IndexBuilder(timed.frame_ts)
    options = Options(spill_records=True, keylog=job.keylog)
    if inflate_budget_mb is not None:
        options.inflate_budget_bytes = inflate_budget_mb << 20
    summary = run(cast(CaptureReader, timed), options, _Indexing(builder))
    doc = summary.to_dict()  # no connections or sessions: they were streamed to the builder
    rest = {k: v for k, v in doc.items() if k not in ("connections", "engineio_sessions", "anomalies")}
    built = builder.finish(rest, doc["anomalies"])
    built.capture_marks = timed.marks
    ix = Index.from_built(built)
    ix.build_search()  # the text search's index (webui/search.py), part of the analysis
    return ix


class CaptureStore:
    """Known captures (by id) and the cache of their analyses."""

    def __init__(
        self,
        folders: list[str] | None = None,
        files: list[str] | None = None,
        upload_dir: str | None = None,
        cache_size: int = 8,
        analyze: Callable[[str, Job], Index] | None = None,
        inflate_budget_mb: int | None = None,
        keylog: KeyLog | None = None,
    ) -> None:
        self.folders = [os.path.realpath(f) for f in folders or [] if os.path.isdir(f)]
        self.upload_dir = os.path.realpath(upload_dir) if upload_dir else None
        self.cache_size = max(1, cache_size)
        self._analyze = analyze or functools.partial(_default_analyze, inflate_budget_mb=inflate_budget_mb)
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()  # one analysis at a time
        self._cli: dict[str, CaptureEntry] = {}
        self._uploads: dict[str, CaptureEntry] = {}
        self._jobs: OrderedDict[tuple[str, int, int, int], Job] = OrderedDict()
        self.keylog = keylog  # `serve --keylog`: for every capture
        # capture id -> (upload number, uploaded keys); a new number makes a new analysis
        self._uploaded_keys: OrderedDict[str, tuple[int, KeyLog]] = OrderedDict()
        self._keys_gen = 0
        for f in files or []:
            real = os.path.realpath(f)
            if os.path.isfile(real):
                e = CaptureEntry(_capture_id(real), real, os.path.basename(f), "cli")
                self._cli[e.id] = e
        if self.upload_dir:
            os.makedirs(self.upload_dir, exist_ok=True)
            self._load_uploads()

    # -- the list --
    def _folder_entries(self) -> list[CaptureEntry]:
        out = []
        for folder in self.folders:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                if not name.endswith(CAPTURE_SUFFIXES):
                    continue
                real = os.path.realpath(os.path.join(folder, name))
                # A symlink out of the folder is not offered.
                if os.path.dirname(real) != folder or not os.path.isfile(real):
                    continue
                out.append(CaptureEntry(_capture_id(real), real, name, "bundled"))
        return out

    def entries(self) -> list[CaptureEntry]:
        seen: dict[str, CaptureEntry] = {}
        for e in [*self._cli.values(), *self._folder_entries(), *self._uploads.values()]:
            seen.setdefault(e.id, e)
        return list(seen.values())

    def get(self, cid: str) -> CaptureEntry | None:
        if not re.fullmatch(r"[0-9a-f]{16}", cid or ""):
            return None
        for e in self.entries():
            if e.id == cid:
                return e
        return None

    # -- uploads --
    def rescan_uploads(self) -> None:
        """Pick up captures written into the upload folder by the app itself (the live page)."""
        if self.upload_dir is not None:
            self._load_uploads()

    def _load_uploads(self) -> None:
        assert self.upload_dir is not None
        for p in sorted(Path(self.upload_dir).glob("*.cap")):
            real = str(p.resolve())
            label = p.with_suffix(".name")
            try:
                name = label.read_text(encoding="utf-8")[:200] if label.exists() else p.name
            except (OSError, UnicodeDecodeError):
                name = p.name
            e = CaptureEntry(_capture_id(real), real, name, "upload")
            self._uploads[e.id] = e

    def add_upload(self, filename: str, data: bytes) -> CaptureEntry:
        if self.upload_dir is None:
            raise UploadError("uploads are turned off")
        if not is_capture_magic(data[:4]):
            raise UploadError("not a pcap or pcapng file (the first bytes are not a capture magic number)")
        digest = hashlib.sha256(data).hexdigest()[:24]
        path = os.path.join(self.upload_dir, digest + ".cap")
        name = _NAME_OK.sub("_", os.path.basename(filename or "upload"))[:120] or "upload"
        tmp = path + ".part"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        with open(os.path.join(self.upload_dir, digest + ".name"), "w", encoding="utf-8") as fh:
            fh.write(name)
        real = os.path.realpath(path)
        e = CaptureEntry(_capture_id(real), real, name, "upload")
        with self._lock:
            self._uploads[e.id] = e
        return e

    # -- TLS key logs --
    def add_keylog(self, entry: CaptureEntry, data: bytes) -> int:
        """Keys uploaded beside a capture: parsed and held in memory only (never written, never
        sent back), added to the keys uploaded before for it; the capture is analyzed again with
        them. Returns how many secrets the capture now has; UploadError for a file that is too
        large or has no key-log line."""
        if len(data) > MAX_KEYLOG_UPLOAD:
            raise UploadError(f"the key log is larger than {MAX_KEYLOG_UPLOAD >> 20} MiB")
        from analyzer.pipeline import KeyLog

        new = KeyLog()
        new.add_text(data, "uploaded key log")
        if not len(new):
            raise UploadError(
                "no TLS secret in that file: a key log has lines like 'CLIENT_RANDOM <64 hex> <96 hex>' "
                "(SSLKEYLOGFILE, node --tls-keylog, SSLContext.keylog_filename)"
            )
        with self._lock:
            keys = KeyLog()  # a new object: the running analysis keeps its own
            _, old = self._uploaded_keys.pop(entry.id, (0, None))
            if old is not None:
                keys.merge(old)
            keys.merge(new)
            self._keys_gen += 1
            self._uploaded_keys[entry.id] = (self._keys_gen, keys)
            while len(self._uploaded_keys) > MAX_KEYLOG_CAPTURES:
                self._uploaded_keys.popitem(last=False)
            return len(keys)

    def _keys_for(self, uploaded: KeyLog | None) -> KeyLog | None:
        """The keys of one analysis: serve --keylog and those uploaded beside the capture."""
        if uploaded is None or self.keylog is None:
            return uploaded if uploaded is not None else self.keylog
        from analyzer.pipeline import KeyLog

        keys = KeyLog()
        keys.merge(self.keylog)
        keys.merge(uploaded)
        return keys

    # -- analyses --
    def job(self, entry: CaptureEntry, start: bool = True) -> Job | None:
        """The analysis of a capture: cached, running, or started now (when `start`)."""
        st = entry.stat()
        if st is None:
            return None
        with self._lock:
            gen, uploaded = self._uploaded_keys.get(entry.id, (0, None))
            key = (entry.path, st[0], st[1], gen)
            job = self._jobs.get(key)
            if job is not None:  # done, running, or failed: a changed file has another key
                self._jobs.move_to_end(key)
                return job
            if not start:
                return None
            job = Job(key[:3], st[1], keylog=self._keys_for(uploaded))
            job.keys_uploaded = len(uploaded) if uploaded is not None else 0
            self._jobs[key] = job
            while len(self._jobs) > self.cache_size:
                old_key, old = next(iter(self._jobs.items()))
                if old.state == "running":
                    break
                del self._jobs[old_key]
        threading.Thread(target=self._run, args=(job,), name="socketscope-analysis", daemon=True).start()
        return job

    def _run(self, job: Job) -> None:
        with self._run_lock:
            try:
                job.index = self._analyze(job.key[0], job)
                job.state = "done"
            except Exception as exc:  # the file is not a capture, or our bug: shown, not raised
                job.error = f"{type(exc).__name__}: {exc}"
                job.state = "error"
            finally:
                job.keylog = None  # the secrets are not kept past the analysis
                job.finished = time.monotonic()
                job.done.set()

    def index(self, entry: CaptureEntry, wait: float = 0.0) -> tuple[Job | None, Index | None]:
        job = self.job(entry)
        if job is None:
            return None, None
        if wait > 0:
            job.done.wait(wait)
        return job, job.index if job.state == "done" else None
