"""`socketscope bench CAPTURE`: the benchmark harness of a source checkout (benchmarks/run.py).

A thin wrapper: it finds benchmarks/run.py beside the analyzer package (the harness is not
installed with the package; it needs tshark, pyshark and scapy, and the generated captures
of benchmarks/generate.py) and runs it with the same options.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from analyzer.cli.common import EXIT_USAGE, wrap

__all__ = ["add_bench_parser", "find_runner", "run_bench"]

BENCH_EPILOG = """\
examples:
  python benchmarks/generate.py --size-mb 500 -o benchmarks/out/big.pcap   # as root
  socketscope bench benchmarks/out/big.pcap
  socketscope bench capture.pcap --methods socketscope,tshark --scaling none --profile none

exit codes: 0 done, 2 usage error (no benchmarks/run.py: not a source checkout; the report
or work folder cannot be written), others from benchmarks/run.py."""


def add_bench_parser(sub: Any) -> None:
    b = sub.add_parser(
        "bench",
        help="measure socketscope against tshark, pyshark and scapy on a capture (source checkout only)",
        description=wrap(
            "Runs benchmarks/run.py of a source checkout: wall and CPU time, packets/s, MB/s and "
            "peak memory of socketscope, tshark, pyshark and scapy on the same capture, socketscope at three "
            "sizes of it and a profile, written to a markdown report. See benchmarks/README.md and "
            "docs/benchmarks.md."
        ),
        epilog=BENCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("capture", help="a classic pcap file, e.g. from benchmarks/generate.py")
    b.add_argument(
        "--slice-packets", type=int, default=50_000, metavar="N", help="slice for pyshark and scapy (50000)"
    )
    b.add_argument(
        "--methods", default="socketscope,tshark,pyshark,scapy", help="comma-separated tools to measure"
    )
    b.add_argument(
        "--scaling", default="auto", help="'auto' (25%%, 50%% and 100%% prefixes), 'none' or FILE,FILE,..."
    )
    b.add_argument("--profile", default="auto", help="'auto' (the 25%% prefix), 'none' or a FILE to profile")
    b.add_argument(
        "--report", metavar="FILE.md", help="markdown report to update (default docs/benchmarks.md)"
    )
    b.add_argument(
        "--work-dir", metavar="DIR", help="where slices, prefixes and raw results go (default benchmarks/out)"
    )
    b.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="per measured process, seconds")


def find_runner() -> Path | None:
    runner = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
    return runner if runner.is_file() else None


def run_bench(args: argparse.Namespace) -> int:
    runner = find_runner()
    if runner is None:
        msg = "socketscope bench: benchmarks/run.py not found (it ships with the source tree only)"
        print(msg, file=sys.stderr)
        return EXIT_USAGE
    from analyzer.cli.common import output_problem

    problem = (args.report and output_problem(args.report, args.capture)) or (
        args.work_dir and output_problem(args.work_dir, args.capture, directory=True)
    )
    if problem:
        print(f"socketscope bench: {problem}", file=sys.stderr)
        return EXIT_USAGE
    argv = [
        args.capture,
        "--slice-packets",
        str(args.slice_packets),
        "--methods",
        args.methods,
        "--scaling",
        args.scaling,
        "--profile",
        args.profile,
        "--timeout",
        str(args.timeout),
    ]
    if args.report:
        argv += ["--report", args.report]
    if args.work_dir:
        argv += ["--work-dir", args.work_dir]
    spec = importlib.util.spec_from_file_location("socketscope_bench_run", runner)
    if spec is None or spec.loader is None:
        return EXIT_USAGE
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    result: int = module.main(argv)
    return result
