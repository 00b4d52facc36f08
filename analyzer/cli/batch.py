"""`socketscope batch INPUT... --out DATASET`: many captures into one Parquet dataset, on Dask
(docs/dataset.md). Needs the `batch` extra: `pip install 'socketscope[batch]'`."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

from analyzer.cli.common import (
    EXIT_CAPTURE,
    EXIT_DAMAGED,
    EXIT_NOT_CAPTURE,
    EXIT_OK,
    EXIT_USAGE,
    OutputError,
    add_decode_as_option,
    add_inflate_budget_option,
    add_keylog_option,
    add_quiet_option,
    inflate_budget_bytes,
    wrap,
)

__all__ = ["BATCH_MODULES", "add_batch_parser", "missing_batch_modules", "run_batch_command"]

BATCH_MODULES = ("dask", "distributed", "pyarrow", "duckdb")
INSTALL_HINT = "pip install 'socketscope[batch]' (in a checkout: pip install '.[batch]')"

EPILOG = """\
examples:
  socketscope batch /var/captures --out dataset/
  socketscope batch 'dumps/*.pcap.zst' s3://bucket/caps/ --out dataset/ --scheduler tcp://10.0.0.5:8786
  socketscope query dataset/ "SELECT code, count(*) FROM anomalies GROUP BY code"

Running it again adds only the captures that are new or changed (size and SHA-256); those that
failed are tried again. Tables and columns: docs/dataset.md.

exit codes:
  0  every capture is in the dataset
  2  usage error (bad option, the dataset cannot be written or has another schema version)
  3  no input names a capture
  4  some captures failed or are damaged (each is in `captures` with its error)
  5  the batch could not run: the batch extra is missing, the scheduler cannot be reached"""


def _absent(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def missing_batch_modules() -> list[str]:
    return [m for m in BATCH_MODULES if _absent(m)]


def need_batch_extra(command: str) -> bool:
    missing = missing_batch_modules()
    if missing:
        print(
            f"socketscope: {command} needs {', '.join(missing)}: {INSTALL_HINT}",
            file=sys.stderr,
        )
    return bool(missing)


def _positive(value: str) -> int:
    if value.isascii() and value.isdigit() and 0 < int(value) <= 4096:
        return int(value)
    raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to 4096")


def add_batch_parser(subparsers: Any) -> argparse.ArgumentParser:
    b: argparse.ArgumentParser = subparsers.add_parser(
        "batch",
        help="analyze many captures into a Parquet dataset (Dask; socketscope query reads it)",
        description=wrap(
            "Analyzes captures (files, directories recursed, globs, fsspec URLs; .gz and .zst too) on a "
            "Dask cluster, a local one by default, and writes their records as a Parquet dataset: one "
            "table per record type, partitioned by capture (docs/dataset.md). Captures already in "
            "the dataset, unchanged, are skipped."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("inputs", nargs="+", metavar="INPUT", help="capture file, directory, glob or URL")
    b.add_argument("--out", required=True, metavar="DATASET", help="the dataset directory (created)")
    b.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler (tcp://HOST:8786) instead of "
        "a local cluster; its workers must reach the inputs and the dataset at the same paths",
    )
    b.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="local cluster: worker processes (default: one per core)",
    )
    b.add_argument(
        "--split-mb",
        type=_positive,
        metavar="MIB",
        default=1024,
        help="captures larger than this are split into tasks by flow hash (default 1024)",
    )
    add_keylog_option(b)
    add_decode_as_option(b)
    add_inflate_budget_option(b)
    add_quiet_option(b)
    return b


class _Bar:
    def __init__(self, quiet: bool) -> None:
        self.show = not quiet and sys.stderr.isatty()

    def __call__(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        if self.show:
            sys.stderr.write(
                f"\r{done:,} of {total:,} captures, "
                f"{done_bytes / 1e6:,.1f} of {total_bytes / 1e6:,.1f} MB\033[K"
            )
            sys.stderr.flush()

    def clear(self) -> None:
        if self.show:
            sys.stderr.write("\r\033[K")


def _keylog_texts(paths: list[str]) -> tuple[tuple[bytes, str], ...]:
    from analyzer.cli.common import read_keylog

    return tuple((read_keylog(path), path) for path in paths)


def run_batch_command(args: argparse.Namespace) -> int:
    if need_batch_extra("batch"):
        return EXIT_CAPTURE
    from analyzer.batch.dataset import DatasetError
    from analyzer.batch.engine import EngineError, run_batch
    from analyzer.batch.inputs import expand_inputs

    try:
        keylogs = _keylog_texts(args.keylog)
    except OutputError as exc:
        print(f"socketscope: batch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sources, problems = expand_inputs(args.inputs)
    for p in problems:
        print(f"socketscope: batch: {p}", file=sys.stderr)
    if not sources:
        print("socketscope: batch: no capture to analyze", file=sys.stderr)
        return EXIT_NOT_CAPTURE
    bar = _Bar(args.quiet)

    def dashboard(link: str) -> None:
        if not args.quiet:
            print(f"socketscope: batch: Dask dashboard: {link}", file=sys.stderr)

    spec_args = {
        "decode_as": dict(args.decode_as),
        "keylogs": keylogs,
        "inflate_budget_bytes": inflate_budget_bytes(args),
    }
    try:
        result = run_batch(
            sources,
            args.out,
            scheduler=args.scheduler,
            workers=args.workers,
            split_bytes=args.split_mb << 20,
            spec_args=spec_args,
            progress=bar,
            on_dashboard=dashboard,
        )
    except DatasetError as exc:
        bar.clear()
        print(f"socketscope: batch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        bar.clear()
        print(f"socketscope: batch: {exc}", file=sys.stderr)
        return EXIT_CAPTURE
    bar.clear()
    for location, error in result.errors:
        print(f"socketscope: batch: {location}: {error}", file=sys.stderr)
    if not args.quiet:
        print(
            f"socketscope: batch: {result.added - result.failed} captures added, {result.failed} failed, "
            f"{result.unchanged} unchanged in {args.out}",
            file=sys.stderr,
        )
    return EXIT_DAMAGED if result.failed or problems else EXIT_OK
