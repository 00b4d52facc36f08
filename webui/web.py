"""Helpers shared by the page and API blueprints: the store, capture look-up, paging, CSRF."""

from __future__ import annotations

import contextlib
import hmac
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, jsonify, request

from webui.index import Index
from webui.store import CaptureEntry, CaptureStore, Job

__all__ = [
    "MAX_LIMIT",
    "Pager",
    "check_csrf",
    "csrf_token",
    "entry_or_404",
    "load_packets",
    "pager",
    "paging",
    "parse_frames",
    "ready_index",
    "store",
    "upload_slot",
]

MAX_LIMIT = 1000
MAX_FRAMES = 200


def store() -> CaptureStore:
    s = current_app.extensions["socketscope.store"]
    assert isinstance(s, CaptureStore)
    return s


def entry_or_404(cid: str) -> CaptureEntry:
    e = store().get(cid)
    if e is None:
        abort(404, description="no such capture")
    return e


def analysis(entry: CaptureEntry, wait: float | None = None) -> tuple[Job | None, Index | None]:
    if wait is None:
        wait = float(current_app.config["ANALYSIS_WAIT"])
    return store().index(entry, wait)


def ready_index(cid: str, wait: float | None = None) -> tuple[CaptureEntry, Index]:
    """The entry and its index for a JSON route (waiting up to `wait` s, else ANALYSIS_WAIT):
    202 with the progress while it is analysed, 422 when the file is not a capture."""
    entry = entry_or_404(cid)
    job, ix = analysis(entry, wait)
    if job is None:
        abort(404, description="the capture file is gone")
    if job.state == "error":
        abort(422, description=job.error or "analysis failed")
    if ix is None:
        resp = jsonify({"status": job.status()})
        resp.status_code = 202
        abort(resp)
    return entry, ix


def paging(args: Mapping[str, str], default: int = 100) -> tuple[int, int]:
    def num(name: str, d: int) -> int:
        v = args.get(name, "")
        return int(v) if v.isdigit() and len(v) < 10 else d

    return num("offset", 0), max(1, min(num("limit", default), MAX_LIMIT))


@dataclass(frozen=True, slots=True)
class Pager:
    """One page of a list on an HTML page: what it shows, and the links to the pages around it.
    An offset past the end shows nothing and links to the last page."""

    total: int
    offset: int
    limit: int
    prev_url: str | None
    next_url: str | None
    last_url: str | None  # the last page, when the offset is past the end

    @property
    def first(self) -> int:
        return self.offset + 1

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def past_end(self) -> bool:
        return self.total > 0 and self.offset >= self.total

    @property
    def paged(self) -> bool:
        """Whether there is more than one page (or this one is not the first)."""
        return self.total > self.limit or self.offset > 0


def pager(total: int, offset: int, limit: int, url: Callable[[int], str]) -> Pager:
    """The pager of `total` items at `offset`; `url(offset)` is the page at another offset."""
    last_offset = max(0, (total - 1) // limit * limit)
    if total and offset >= total:
        return Pager(total, offset, limit, url(last_offset), None, url(last_offset))
    return Pager(
        total,
        offset,
        limit,
        url(max(0, offset - limit)) if offset > 0 else None,
        url(offset + limit) if offset + limit < total else None,
        None,
    )


def parse_frames(text: str | None, limit: int = MAX_FRAMES) -> list[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if "-" in part:
            a, _, b = part.partition("-")
            if a.isdigit() and b.isdigit() and len(a) < 10 and len(b) < 10 and 0 < int(a) <= int(b):
                out.update(range(int(a), min(int(b), int(a) + limit) + 1))
        elif part.isdigit() and len(part) < 10 and int(part) > 0:
            out.add(int(part))
        if len(out) >= limit:
            break
    return sorted(out)[:limit]


def load_packets(entry: CaptureEntry, frames: list[int], ix: Index | None = None) -> list[dict[str, Any]]:
    """The packets described field by field, read from near the first one when the index has
    the capture's resume points."""
    from analyzer.pipeline.access import read_packets

    try:
        return read_packets(entry.path, frames, ix.capture_marks if ix is not None else ())
    except Exception:  # a file that changed or vanished: no packet view, not a 500
        return []


def csrf_token() -> str:
    return str(current_app.extensions["socketscope.csrf"])


def check_csrf() -> None:
    """State-changing requests carry the page's token (form field or X-CSRF-Token header)."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not hmac.compare_digest(sent.encode(), csrf_token().encode()):
        abort(403, description="missing or wrong CSRF token")


@contextlib.contextmanager
def upload_slot() -> Iterator[None]:
    """One of the few uploads read at the same time (each can hold MAX_CONTENT_LENGTH in
    memory); over the bound: 503 at once, before the body is read."""
    slots, bound = current_app.extensions["socketscope.upload_slots"]
    assert isinstance(slots, threading.BoundedSemaphore)
    if not slots.acquire(blocking=False):
        abort(503, description=f"Too many uploads at once (at most {bound}): try again in a moment.")
    try:
        yield
    finally:
        slots.release()
