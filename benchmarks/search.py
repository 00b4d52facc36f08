"""The web UI's text search and filters on a big capture: the index's build time and size, and
each search answered with the index and by scanning every row (docs/benchmarks.md).

The capture is opened by the Flask app as `socketscope serve` opens it (the analysis builds the
search index, webui/search.py); then each search of the messages API is timed with the index,
and the same search with the index set aside (the scan of every record it replaces), and a few
filters (docs/filters.md).

    python benchmarks/search.py /tmp/filter-base-700mb.pcap
    python benchmarks/search.py /tmp/filter-base.pcap --filters-only --ab
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NEEDLES = ("hello", "chat", "zzzz-not-there", "token", "websocket")
SCANNED = ("hello", "chat")
FILTERS = (
    'sio.event == "chat"',
    'sio.event == "chat" && ack.latency_ms > 20',
    "ack.latency_ms > 20",
    "ws.opcode == 8",
    "ws.opcode == 1 && length > 1000",
    'payload contains "hello"',
    'payload contains "hello" || payload contains "token"',
    'sio.event matches "^ch"',
    'tcp.retransmission && layer == "websocket"',
)


def _timed(client: Any, url: str, query: dict[str, str]) -> tuple[float, int]:
    t = time.perf_counter()
    resp = client.get(url, query_string=query, headers={"Host": "127.0.0.1"})
    took = time.perf_counter() - t
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return took, int(resp.get_json()["total"])


def measure(path: str, filters_only: bool = False, ab: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from webui import create_app

    app = create_app(captures=[path], folders=[], config={"ANALYSIS_WAIT": 0})
    store = app.extensions["socketscope.store"]
    entry = next(e for e in store.entries() if e.source == "cli")
    t = time.perf_counter()
    job = store.job(entry)
    job.done.wait(4 * 3600)
    ix = job.index
    assert ix is not None, job.error
    out: dict[str, Any] = {
        "capture": path,
        "bytes": Path(path).stat().st_size,
        "rows": len(ix.rows),
        "analysis_s": round(time.perf_counter() - t, 2),
        "index": ix.search.stats if ix.search is not None else None,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    client = app.test_client()
    url = f"/api/captures/{entry.id}/messages"
    searches = []
    for needle in () if filters_only else NEEDLES:
        q = {"q": needle, "limit": "100"}
        first, total = _timed(client, url, q)
        again, _ = _timed(client, url, q)
        entry_out = {"q": needle, "matches": total, "index_s": round(first, 3), "again_s": round(again, 3)}
        if needle in SCANNED:  # the scan reads 64 Ki characters of each field, the index 2 Ki a row
            saved, ix.search = ix.search, None
            scan, scan_total = _timed(client, url, q)
            ix.search = saved
            entry_out.update(scan_s=round(scan, 3), scan_matches=scan_total)
        searches.append(entry_out)
    out["searches"] = searches
    filters = []
    for expr in FILTERS:
        took, total = _timed(client, url, {"filter": expr, "limit": "100"})
        best = min([took] + [_timed(client, url, {"filter": expr, "limit": "100"})[0] for _ in range(2)])
        filters.append({"filter": expr, "matches": total, "s": round(took, 3), "best_of_3_s": round(best, 3)})
    out["filters"] = filters
    if ab:
        out["ab"] = _ab(client, url, ix)
    return out


def _ab(client: Any, url: str, ix: Any) -> list[dict[str, Any]]:
    """Each filter timed with the index and the row table's ack columns, and with both set aside
    (every record read, as before they answered filters), in turns, best of 3 each: the ratio holds
    on a loaded machine, where times of separate runs do not compare."""
    from webui.rowfilter import RowMatcher

    out = []
    for expr in FILTERS:
        q = {"filter": expr, "limit": "100"}
        fast: list[float] = []
        slow: list[float] = []
        for _ in range(3):
            took, total = _timed(client, url, q)
            fast.append(took)
            saved, ix.search = ix.search, None
            RowMatcher.ack_columns = False
            try:
                took, slow_total = _timed(client, url, q)
            finally:
                ix.search = saved
                RowMatcher.ack_columns = True
            slow.append(took)
            assert total == slow_total, (expr, total, slow_total)
        best = {"set_aside_s": round(min(slow), 3), "s": round(min(fast), 3)}
        out.append({"filter": expr, "matches": total, **best})
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture")
    p.add_argument("--filters-only", action="store_true", help="time the filters, not the searches")
    p.add_argument("--ab", action="store_true", help="also each filter without the index and row columns")
    args = p.parse_args()
    print(json.dumps(measure(args.capture, args.filters_only, args.ab), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
