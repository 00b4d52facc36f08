"""`socketscope batch` on N captures with 1 and 2 local workers, against `analyze --format json`.

    python benchmarks/batch.py CAPTURE [--copies 20] [--no-dask] [--root CHECKOUT]

Copies CAPTURE N times (distinct capture ids), then times: `analyze --format json` on each copy
in one process (the per-core baseline), the batch task (pipeline + Parquet) on each copy in one
process (the same work without Dask), and `batch --workers 1` and `--workers 2` into fresh
datasets (wall time, CPU of the whole process tree, and peak RSS of the largest worker as reported
by psutil), and the same `analyze` runs as two processes at once, half the files each: the
machine's own 2-process speed-up at that moment, against which the 2-worker speed-up is read. Each
run records the load average before and after it. `engine_overhead` is what each batch run costs
beyond its tasks: CPU seconds of its process tree minus those of the tasks in one process, and wall
seconds minus the tasks' wall time divided by the workers. Prints one JSON object. The machine may
be shared: CPU seconds are the honest number.
`--no-dask` measures only the first two (the per-core comparison); `--root` runs the code of another
checkout (say main, for a before/after with the same script).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _tree_rss(pid: int, peak: dict[str, int], stop: threading.Event) -> None:
    import psutil

    while not stop.is_set():
        try:
            proc = psutil.Process(pid)
            peak["self"] = max(peak.get("self", 0), proc.memory_info().rss)
            for k in proc.children(recursive=True):
                with contextlib_suppress():
                    peak["worker"] = max(peak.get("worker", 0), k.memory_info().rss)
        except Exception:
            return
        time.sleep(0.2)


def _load() -> float:
    """The 1-minute load average (the machine may be shared: say how loaded it was)."""
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


class contextlib_suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def _run(argv: list[str], root: Path = ROOT, parallel: list[list[str]] | None = None) -> dict[str, float]:
    """Run `argv` (and, at the same time, each of `parallel`): wall and CPU seconds of them all,
    peak RSS of the process and of its largest child, the load average before and after."""
    env = dict(os.environ, PYTHONPATH=str(root))
    load = _load()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # cwd: `python -c` and `-m` put the working directory before PYTHONPATH on sys.path, so run
    # there, or a --root run from another checkout would import that checkout's code
    procs = [
        subprocess.Popen(x, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for x in [argv, *(parallel or [])]
    ]
    peak: dict[str, int] = {}
    stop = threading.Event()
    th = threading.Thread(target=_tree_rss, args=(procs[0].pid, peak, stop), daemon=True)
    th.start()
    for p in procs:
        p.wait()
    stop.set()
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(peak.get("self", 0) / 1e6, 1),
        "peak_worker_rss_mb": round(peak.get("worker", 0) / 1e6, 1),
        "load_before": load,
        "load_after": _load(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--no-dask", action="store_true", help="only analyze --format json and the batch task")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="socketscope-batch-bench-"))
    try:
        src = work / "in"
        src.mkdir()
        suffix = Path(a.capture).suffix
        for i in range(a.copies):
            shutil.copy(a.capture, src / f"c{i:03d}{suffix}")
        files = sorted(str(p) for p in src.iterdir())
        size = sum(os.path.getsize(f) for f in files)
        py = sys.executable
        analyze_code = (
            "import sys\nfrom analyzer.cli import main\nfor f in sys.argv[1:]:\n"
            "    main(['analyze', f, '--format', 'json', '-o', '/dev/null', '--jobs', '1'])"
        )
        analyze = [py, "-c", analyze_code, *files]
        tasks = [
            py,
            "-c",
            "import sys, tempfile\nfrom analyzer.batch.task import TaskSpec, analyze_share\n"
            "for i, f in enumerate(sys.argv[2:]):\n"
            "    analyze_share(TaskSpec(f, str(i), tempfile.mkdtemp(dir=sys.argv[1])))",
            str(work),
            *files,
        ]
        out: dict[str, Any] = {"captures": a.copies, "bytes": size, "cores": os.cpu_count()}
        for key, argv in (("analyze_json", analyze), ("batch_tasks_in_one_process", tasks)):
            out[key] = _run(argv, a.root)
            print(key, out[key], file=sys.stderr, flush=True)
        if not a.no_dask:
            # the machine's own 2-process ceiling: the same analyze runs as two processes at once,
            # half the files each (what 2 workers could at best get from this machine right now)
            half = len(files) // 2
            out["analyze_json_2_processes"] = _run(
                [py, "-c", analyze_code, *files[:half]], a.root, [[py, "-c", analyze_code, *files[half:]]]
            )
            print("analyze x2", out["analyze_json_2_processes"], file=sys.stderr, flush=True)
        out["task_vs_analyze_cpu"] = round(
            out["batch_tasks_in_one_process"]["cpu_s"] / max(out["analyze_json"]["cpu_s"], 1e-9), 2
        )
        modes = ["analyze_json", "batch_tasks_in_one_process"]
        for n in () if a.no_dask else (1, 2):
            modes.append(f"batch_{n}_workers")
            out[f"batch_{n}_workers"] = _run(
                [
                    py,
                    "-m",
                    "analyzer.cli",
                    "batch",
                    str(src),
                    "--out",
                    str(work / f"ds{n}"),
                    "--workers",
                    str(n),
                    "-q",
                ],
                a.root,
            )
            print(n, out[f"batch_{n}_workers"], file=sys.stderr, flush=True)
        if not a.no_dask:
            out["speedup_2_vs_1"] = round(
                out["batch_1_workers"]["wall_s"] / out["batch_2_workers"]["wall_s"], 2
            )
            out["machine_2_process_speedup"] = round(
                out["analyze_json"]["wall_s"] / out["analyze_json_2_processes"]["wall_s"], 2
            )
            modes.append("analyze_json_2_processes")
            # the engine's own cost: each batch run against the same tasks in one process (CPU of the
            # whole process tree; wall time against the tasks' time shared by the n workers)
            tasks = out["batch_tasks_in_one_process"]
            out["engine_overhead"] = {
                f"{n}_workers": {
                    "cpu_s": round(out[f"batch_{n}_workers"]["cpu_s"] - tasks["cpu_s"], 2),
                    "wall_s": round(out[f"batch_{n}_workers"]["wall_s"] - tasks["wall_s"] / n, 2),
                }
                for n in (1, 2)
            }
            print("engine overhead", out["engine_overhead"], file=sys.stderr, flush=True)
        mb = size / 1e6
        for k in modes:
            out[k]["mb_per_cpu_s"] = round(mb / max(out[k]["cpu_s"], 1e-9), 2)
        print(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
