#!/usr/bin/env python3
"""socketscope's commands beside tshark on the captures of both traffic profiles (issue #19).

    python benchmarks/sidebyside.py mixed=benchmarks/out/mixed.pcap state=benchmarks/out/state.pcap
    python benchmarks/sidebyside.py state=FILE --rounds 3 --json out.json

For each capture, `--rounds` interleaved rounds (tshark, then every socketscope command, then the
next round), each command in its own process, measured as benchmarks/run.py measures (wall time
around the child, CPU time and peak RSS from wait4); the table gives the medians and the ratio of
tshark's time to each command's (above 1: socketscope is faster). The tshark command is the
issue's: `tshark -r FILE -d tcp.port==PORT,http -Y websocket -T fields -e frame.number
-e websocket.opcode -e websocket.payload_length`, PORT the benchmark's plain WebSocket port.

socketscope runs from this checkout (benchmarks/run.py's CODE_ROOT): compiled when the compiled
core was built in place (`python3 setup.py build_ext --inplace`), and SOCKETSCOPE_PURE=1 in the
environment measures the pure modules. The machine's load shows in wall time; CPU time is the
steadier number on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench

__all__ = ["COMMANDS", "main", "side_by_side"]

RAW_WS_PORT = 8088  # benchmarks/generate.py: the plain (uncompressed) WebSocket server

# name -> socketscope arguments after the capture path ({out} is a file in the work folder)
COMMANDS: dict[str, list[str]] = {
    "analyze (text summary)": ["analyze", "{cap}", "-o", "{out}"],
    "analyze --events": ["analyze", "{cap}", "--events", "-o", "{out}"],
    "analyze --format json": ["analyze", "{cap}", "--format", "json", "-o", "{out}"],
    "export --format csv": ["export", "{cap}", "--format", "csv", "-o", "{out}-csv"],  # a folder
    "export --format jsonl": ["export", "{cap}", "--format", "jsonl", "-o", "{out}"],
}
# issue #19 item 5, `--jobs N`: the rows above run one process (said explicitly, should the
# default change); these run two, with the same output
for _args in COMMANDS.values():
    if "--jobs" not in _args:
        _args += ["--jobs", "1"]
COMMANDS |= {
    "analyze --jobs 2": ["analyze", "{cap}", "-o", "{out}", "--jobs", "2"],
    "analyze --format json --jobs 2": ["analyze", "{cap}", "--format", "json", "-o", "{out}", "--jobs", "2"],
    "export --format jsonl --jobs 2": ["export", "{cap}", "--format", "jsonl", "-o", "{out}", "--jobs", "2"],
}


def _tshark(cap: Path) -> list[str]:
    return [
        *("tshark", "-r", str(cap), "-d", f"tcp.port=={RAW_WS_PORT},http", "-Y", "websocket"),
        *("-T", "fields", "-e", "frame.number", "-e", "websocket.opcode", "-e", "websocket.payload_length"),
    ]


def _run(name: str, cmd: list[str], cap: Path, out: Path | None, timeout: float) -> dict[str, Any]:
    m, _ = bench.measure(
        cmd,
        method=name,
        scope="full",
        file=cap,
        packets=0,
        timeout=timeout,
        stdout_path=out,
        sample=True,
    )
    if m.returncode != 0 or m.timed_out:
        raise SystemExit(f"sidebyside: {' '.join(cmd)} failed (exit {m.returncode})")
    rss = (m.tree_peak_kb or m.maxrss_kb or 0) / 1024
    # the 1-minute load average when it ended: the machine may be shared
    return {"wall": m.wall_s, "cpu": m.cpu_s, "rss_mb": rss, "load": os.getloadavg()[0]}


def side_by_side(
    captures: dict[str, Path], rounds: int, work: Path, timeout: float = 3600.0
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{profile: {command: [one measurement per round]}}."""
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for profile, cap in captures.items():
        per: dict[str, list[dict[str, Any]]] = {"tshark": []}
        for r in range(rounds):
            per["tshark"].append(_run("tshark", _tshark(cap), cap, work / "tshark.txt", timeout))
            for name, args in COMMANDS.items():
                out = work / f"out-{profile}-{len(per)}"
                shutil.rmtree(f"{out}-csv", ignore_errors=True)
                argv = [a.format(cap=cap, out=out) for a in args]
                cmd = [bench.PY, "-m", "analyzer.cli", *argv, "--no-progress"]
                per.setdefault(name, []).append(_run(name, cmd, cap, None, timeout))
            print(f"{profile}: round {r + 1} of {rounds} done", file=sys.stderr, flush=True)
        results[profile] = per
    return results


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key] or 0.0) for r in rows)


def render(results: dict[str, dict[str, list[dict[str, Any]]]], captures: dict[str, Path]) -> str:
    lines = []
    for profile, per in results.items():
        cap = captures[profile]
        lines += [
            f"**{profile}** ({cap.name}, {cap.stat().st_size / 1e6:,.0f} MB): "
            f"medians of {len(per['tshark'])} rounds",
            "",
            "| command | wall s | CPU s | peak RSS MB | tshark / it (wall) | tshark / it (CPU) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        tw, tc = _median(per["tshark"], "wall"), _median(per["tshark"], "cpu")
        for name, rows in per.items():
            w, c, rss = _median(rows, "wall"), _median(rows, "cpu"), _median(rows, "rss_mb")
            ratio_w = f"{tw / w:.2f}x" if name != "tshark" and w else "-"
            ratio_c = f"{tc / c:.2f}x" if name != "tshark" and c else "-"
            lines.append(f"| {name} | {w:.2f} | {c:.2f} | {rss:.0f} | {ratio_w} | {ratio_c} |")
        loads = sorted(float(r.get("load", 0.0)) for rows in per.values() for r in rows)
        lines += [
            "",
            f"Load average (1 min) after each command: {loads[0]:.1f} to {loads[-1]:.1f}, "
            f"median {statistics.median(loads):.1f} (2 cores).",
            "",
        ]
    return "\n".join(lines)


def _build() -> str:
    env = dict(os.environ, PYTHONPATH=str(bench.CODE_ROOT))
    out = subprocess.run(
        [bench.PY, "-m", "analyzer.cli", "--version"], env=env, capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("captures", nargs="+", help="PROFILE=FILE, e.g. mixed=big.pcap state=state.pcap")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work-dir", type=Path, default=bench.HERE / "out" / "sidebyside")
    p.add_argument("--json", type=Path, help="also write the raw measurements here")
    args = p.parse_args(argv)
    captures = {}
    for item in args.captures:
        profile, _, path = item.partition("=")
        if not path:
            p.error(f"{item!r}: expected PROFILE=FILE")
        captures[profile] = Path(path)
    results = side_by_side(captures, args.rounds, args.work_dir)
    print(f"{_build()}\n")
    print(render(results, captures))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
