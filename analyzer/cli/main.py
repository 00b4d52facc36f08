"""Command line: `socketscope analyze | export | live | serve | crosscheck | bench | batch | query`.

Each subcommand is a module of this package with `add_*_parser(subparsers)` and `run_*(args)`;
they load their heavy parts (the pipeline, Flask, tshark) only when they run. Exit codes are
in cli/common.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from analyzer.cli import analyze, batch, bench, crosscheck, export, live, query, serve
from analyzer.cli.common import wrap
from analyzer.compiled import build_name
from analyzer.version import __version__

__all__ = ["build_parser", "main"]

MAIN_EPILOG = """\
examples:
  socketscope analyze capture.pcapng
  socketscope export capture.pcap --format har -o capture.har
  socketscope serve capture.pcap
  sudo socketscope live -i lo -f 'tcp port 5000'

exit codes: 0 success, 2 usage error, 3 not a readable capture, 4 damaged capture,
5 (live, crosscheck) the capture or tshark could not run; crosscheck: 1 unexplained differences."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="socketscope",
        description=wrap(
            "Packet-level analyzer for WebSocket, Engine.IO and Socket.IO captures (pcap, pcapng). "
            "`socketscope COMMAND --help` explains each command."
        ),
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"socketscope {__version__}, {build_name()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, _ in COMMANDS.values():
        add(sub)
    return p


COMMANDS: dict[str, tuple[Callable[[Any], object], Callable[[argparse.Namespace], int]]] = {
    "analyze": (analyze.add_analyze_parser, analyze.run_analyze),
    "live": (live.add_live_parser, live.run_live),
    "crosscheck": (crosscheck.add_crosscheck_parser, crosscheck.run_crosscheck),
    "serve": (serve.add_serve_parser, serve.run_serve),
    "export": (export.add_export_parser, export.run_export),
    "bench": (bench.add_bench_parser, bench.run_bench),
    "batch": (batch.add_batch_parser, batch.run_batch_command),
    "query": (query.add_query_parser, query.run_query_command),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command][1](args)
