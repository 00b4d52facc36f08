#!/usr/bin/env python3
"""`--jobs 2` against `--jobs 1` (issue #19 item 5): wall and CPU time, and where the CPU goes.

    python benchmarks/jobs.py /tmp/perf/mixed-30mb.pcap /tmp/perf/state-30mb.pcap --rounds 3
    python benchmarks/jobs.py FILE --phases

Default: for each capture and output (the text summary, `--format json`), `--rounds` rounds of
`analyze FILE -q -o OUT --jobs 1` then `--jobs 2`, each in its own process and measured as
benchmarks/run.py measures (wall time around the child, CPU time from wait4: the worker processes
are the child's children, so their time is in it); medians, the outputs compared byte for byte,
and the load average before each round (wall time means something on an idle machine only).

`--phases`: the same commands in this process with the shares one after the other
(`shards.PROCESSES = False`), CPU time of the quick read (pipeline/groups.py), of each share and
of the merge; *path* = quick read + the longer share + merge is what two idle cores would wait
for (without the interpreter's start-up, the same for both).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

OUTPUTS = {"text": [], "json": ["--format", "json"]}


def _load() -> str:
    return open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"


def processes(captures: list[Path], rounds: int) -> None:
    head = "| capture, output | `--jobs 1` wall s | `--jobs 2` wall s | `--jobs 1` CPU s | `--jobs 2` CPU s"
    print(head + " | same | load |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp:
        for cap in captures:
            for name, fmt in OUTPUTS.items():
                got: dict[str, list[Any]] = {"1": [], "2": []}
                same, loads = True, []
                for _ in range(rounds):
                    loads.append(_load())
                    for jobs in ("1", "2"):
                        out = Path(tmp) / f"out-{jobs}"
                        cmd = [
                            sys.executable,
                            "-m",
                            "analyzer.cli",
                            "analyze",
                            str(cap),
                            *fmt,
                            "-q",
                            "-o",
                            str(out),
                        ]
                        m, _ = bench.measure(
                            [*cmd, "--jobs", jobs],
                            method="socketscope",
                            scope="full",
                            file=cap,
                            packets=0,
                            timeout=3600,
                            sample=False,
                        )
                        got[jobs].append(m)
                    same = same and filecmp.cmp(Path(tmp) / "out-1", Path(tmp) / "out-2", shallow=False)
                med = {
                    j: (statistics.median(m.wall_s for m in ms), statistics.median(m.cpu_s for m in ms))
                    for j, ms in got.items()
                }
                print(
                    f"| {cap.name}, {name} | {med['1'][0]:.2f} | {med['2'][0]:.2f} | {med['1'][1]:.2f} | "
                    f"{med['2'][1]:.2f} | {'yes' if same else 'NO'} | {' '.join(loads)} |",
                    flush=True,
                )


def phases(captures: list[Path], rounds: int) -> None:
    from analyzer.cli import main
    from analyzer.pipeline import shards

    rec: dict[str, float] = {}

    def timed(key: str, fn: Any) -> Any:
        def call(*args: Any) -> Any:
            t = time.process_time()
            out = fn(*args)
            name = f"share {args[0].share}" if key == "share" else key
            rec[name] = time.process_time() - t
            return out

        return call

    shards.PROCESSES = False
    shards._in_process = timed("share", shards._in_process)
    shards._merge = timed("merge", shards._merge)
    shards.share_groups = timed("quick read", shards.share_groups)
    print("| capture, output | one run | quick read | share 0 | share 1 | merge | path | path / one run |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp:
        for cap in captures:
            for name, fmt in OUTPUTS.items():
                rows = []
                for _ in range(rounds):
                    t = time.process_time()
                    main(["analyze", str(cap), *fmt, "-q", "-o", f"{tmp}/one", "--jobs", "1"])
                    one = time.process_time() - t
                    rec.clear()
                    main(["analyze", str(cap), *fmt, "-q", "-o", f"{tmp}/two", "--jobs", "2"])
                    if not filecmp.cmp(f"{tmp}/one", f"{tmp}/two", shallow=False):
                        raise SystemExit(f"{cap}: --jobs 2 wrote other bytes than --jobs 1")
                    if "share 1" not in rec:
                        raise SystemExit(
                            f"{cap}: --jobs 2 was not shared out (under 8 MB, or read again by one)"
                        )
                    rows.append({"one": one, **rec})
                m = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
                path = m["quick read"] + max(m["share 0"], m["share 1"]) + m["merge"]
                print(
                    f"| {cap.name}, {name} | {m['one']:.2f} | {m['quick read']:.2f} | {m['share 0']:.2f} | "
                    f"{m['share 1']:.2f} | {m['merge']:.2f} | {path:.2f} | {path / m['one']:.2f} |",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("captures", nargs="+", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--phases", action="store_true", help="CPU time of each phase, in this process")
    args = ap.parse_args()
    sys.path.insert(0, str(bench.CODE_ROOT))
    (phases if args.phases else processes)(args.captures, args.rounds)


if __name__ == "__main__":
    main()
