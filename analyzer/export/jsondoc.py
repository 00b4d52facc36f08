"""Record -> JSON helpers for the analysis document (ANALYSIS_JSON.md)."""

from __future__ import annotations

from typing import Any

from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse

__all__ = ["body_preview", "http_exchange_dict"]

BODY_PREVIEW = 4096


def body_preview(body: bytes) -> dict[str, Any]:
    """A bounded, JSON-safe view of an HTTP body: text when it is UTF-8, hex otherwise."""
    cut = body[:BODY_PREVIEW]
    try:
        return {"length": len(body), "text": cut.decode("utf-8"), "hex": None, "cut": len(body) > len(cut)}
    except UnicodeDecodeError:
        return {"length": len(body), "text": None, "hex": cut.hex(), "cut": len(body) > len(cut)}


def _request(r: HttpRequest) -> dict[str, Any]:
    return {
        "frame": r.frame,
        "ts": r.ts,
        "method": r.method,
        "target": r.target,
        "version": r.version,
        "headers": [list(h) for h in r.headers],
        "body": body_preview(r.body),
        "body_truncated": r.body_truncated,
        "frames": list(r.frames),
    }


def _response(r: HttpResponse) -> dict[str, Any]:
    return {
        "frame": r.frame,
        "ts": r.ts,
        "version": r.version,
        "status": r.status,
        "reason": r.reason,
        "headers": [list(h) for h in r.headers],
        "body": body_preview(r.body),
        "body_truncated": r.body_truncated,
        "frames": list(r.frames),
    }


def http_exchange_dict(x: HttpExchange) -> dict[str, Any]:
    return {
        "request": _request(x.request) if x.request else None,
        "response": _response(x.response) if x.response else None,
    }
