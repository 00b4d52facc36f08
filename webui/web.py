"""Helpers shared by the page and API blueprints: the store, capture look-up, paging, CSRF."""

from __future__ import annotations

import contextlib
import hmac
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from flask import abort, current_app, request

from webui.index import Index
from webui.store import CaptureEntry, CaptureStore, Job

__all__ = [
    "MAX_LIMIT",
    "check_csrf",
    "csrf_token",
    "entry_or_404",
    "load_packets",
    "paging",
    "parse_frames",
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


def paging(args: Mapping[str, str], default: int = 100) -> tuple[int, int]:
    def num(name: str, d: int) -> int:
        v = args.get(name, "")
        return int(v) if v.isdigit() and len(v) < 10 else d

    return num("offset", 0), max(1, min(num("limit", default), MAX_LIMIT))


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
