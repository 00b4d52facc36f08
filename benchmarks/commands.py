"""Peak memory and time of every socketscope command on captures of several sizes.

Each command runs in its own process (`python -m analyzer.cli ...`); CPU time and peak RSS come
from os.wait4's rusage of that process. Flat memory shows as the same peak at every size.

    python benchmarks/commands.py benchmarks/out/big-prefix25.pcap benchmarks/out/big-prefix50.pcap \\
        benchmarks/out/big.pcap
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# name -> arguments after the capture path ({out}: a scratch path)
COMMANDS: dict[str, list[str]] = {
    "analyze (text)": ["analyze", "{cap}", "--no-progress"],
    "analyze --messages --events": ["analyze", "{cap}", "--no-progress", "--messages", "--events"],
    "analyze --format json": ["analyze", "{cap}", "--no-progress", "--format", "json", "-o", "{out}"],
    "export har": ["export", "{cap}", "--format", "har", "-o", "{out}"],
    "export jsonl": ["export", "{cap}", "--format", "jsonl", "-o", "{out}"],
    "export csv": ["export", "{cap}", "--format", "csv", "-o", "{out}.d"],
    "export pcap": ["export", "{cap}", "--format", "pcap", "-o", "{out}"],
}


def run(cap: str, name: str, scratch: str) -> dict[str, Any]:
    out = os.path.join(scratch, "out")
    args = [a.format(cap=cap, out=out) for a in COMMANDS[name]]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        cmd = [sys.executable, "-m", "analyzer.cli", *args]
        proc = subprocess.Popen(cmd, stdout=null, stderr=null, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    return {
        "capture": cap,
        "bytes": os.path.getsize(cap),
        "command": name,
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_rss_mb": round(ru.ru_maxrss / 1024),
    }


def table(results: list[dict[str, Any]]) -> str:
    caps = list(dict.fromkeys(r["capture"] for r in results))
    sizes = {r["capture"]: r["bytes"] for r in results}
    head = "| command | " + " | ".join(f"{Path(c).name} ({sizes[c] / 1e6:.0f} MB)" for c in caps) + " |"
    lines = [head, "|---|" + "---:|" * len(caps)]
    for name in dict.fromkeys(r["command"] for r in results):
        cells = []
        for c in caps:
            r = next((x for x in results if x["command"] == name and x["capture"] == c), None)
            cells.append(f"{r['peak_rss_mb']} MB, {r['cpu_s']} s" if r and r["exit"] == 0 else "failed")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--commands", help="comma-separated names (default: all)")
    ap.add_argument("-o", "--output", help="write the results as JSON here")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.commands.split(",")] if args.commands else list(COMMANDS)
    results = []
    with tempfile.TemporaryDirectory(prefix="socketscope-bench-") as scratch:
        for cap in args.captures:
            for name in names:
                r = run(cap, name, scratch)
                results.append(r)
                mb, cpu = r["peak_rss_mb"], r["cpu_s"]
                print(f"{Path(cap).name:28} {name:32} {mb:>6} MB {cpu:>8} s exit {r['exit']}")
    print()
    print(table(results))
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
