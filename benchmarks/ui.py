"""The web UI on big captures: analysis time, peak RSS, and each view's response time.

Each capture is opened in a fresh process (the Flask app, its test client, no network): the
analysis runs as `socketscope serve` runs it, then every page and API the browser uses is
requested once and timed. Peak RSS is the process's ru_maxrss (the interpreter, Flask and
plotly included).

    python benchmarks/ui.py benchmarks/out/big-prefix25.pcap benchmarks/out/big.pcap
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _views(cid: str, rows: int, conn: object) -> list[str]:
    c, a = f"/c/{cid}", f"/api/captures/{cid}"
    return [
        f"{c}/",
        f"{c}/timeline",
        f"{c}/sequence",
        f"{c}/messages",
        f"{c}/messages?layer=socketio&offset=1000",
        f"{c}/messages?q=hello",
        f"{c}/messages/5",
        f"{c}/messages/{rows // 2}",
        f"{c}/packets?frames=1000",
        f"{c}/latency",
        f"{c}/anomalies",
        f"{a}/figures/timeline",
        f"{a}/figures/osi",
        f"{a}/latency",
        f"{a}/sequence?session=0",
        f"{a}/sequence?connection={conn}",
        f"{a}/messages?limit=100",
        f"{a}/connections?limit=5",
        f"{a}/sessions?limit=2",
        f"{a}/overview",
    ]


def measure(path: str) -> dict[str, Any]:
    """In this process: open the capture in the app and time everything."""
    sys.path.insert(0, str(ROOT))
    from webui import create_app

    app = create_app(captures=[path], folders=[], config={"ANALYSIS_WAIT": 0})
    store = app.extensions["socketscope.store"]
    entry = next(e for e in store.entries() if e.source == "cli")
    t = time.perf_counter()
    job = store.job(entry)
    job.done.wait(4 * 3600)
    out: dict[str, Any] = {
        "capture": path,
        "bytes": Path(path).stat().st_size,
        "analysis_s": round(time.perf_counter() - t, 2),
        "state": job.state,
        "error": job.error,
    }
    if job.index is None:
        return out
    out["rows"] = len(job.index.rows)
    out["rss_after_analysis_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    client = app.test_client()
    views = []
    conns = job.index.connections
    for url in _views(entry.id, len(job.index.rows), conns[0].get("id") if conns else 0):
        t = time.perf_counter()
        resp = client.get(url, headers={"Host": "127.0.0.1"})
        n = len(resp.get_data())
        views.append(
            {
                "url": url.replace(entry.id, "ID"),
                "status": resp.status_code,
                "seconds": round(time.perf_counter() - t, 3),
                "bytes": n,
            }
        )
    out["views"] = views
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    ap.add_argument("-o", "--output", help="write the results as JSON here")
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.captures[0])))
        return 0
    results = []
    for cap in args.captures:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", cap], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            print(f"{cap}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"{cap}: {r['bytes'] / 1e6:.0f} MB, {r.get('rows')} rows, analysis {r['analysis_s']} s, "
            f"peak RSS {r.get('peak_rss_mb')} MB (after analysis {r.get('rss_after_analysis_mb')} MB)"
        )
        for v in r.get("views", []):
            print(f"  {v['seconds']:7.3f} s  {v['status']}  {v['bytes']:>10}  {v['url']}")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
