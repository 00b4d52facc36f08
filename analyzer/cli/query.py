"""`socketscope query DATASET "SQL"`: SQL over a `batch` dataset with DuckDB (docs/dataset.md)."""

from __future__ import annotations

import argparse
import csv
import datetime
import decimal
import json
import sys
from typing import Any

from analyzer.cli.batch import need_batch_extra
from analyzer.cli.common import EXIT_CAPTURE, EXIT_OK, EXIT_USAGE, wrap

__all__ = ["add_query_parser", "run_query_command"]

EPILOG = """\
examples:
  socketscope query dataset/ "SELECT code, count(*) n FROM anomalies GROUP BY code ORDER BY n DESC"
  socketscope query dataset/ "SELECT * FROM acks WHERE latency_ms > 100" --format csv > slow.csv

Tables: captures, connections, http, ws_frames, ws_messages, tls, sessions, eio_packets,
sio_packets, acks, anomalies (docs/dataset.md, with ten example questions).

exit codes:
  0  success
  2  usage error (not a dataset, SQL that DuckDB rejects)
  5  the batch extra is missing"""

MAX_CELL = 60  # characters of a cell in the table format


def add_query_parser(subparsers: Any) -> argparse.ArgumentParser:
    q: argparse.ArgumentParser = subparsers.add_parser(
        "query",
        help="run SQL (DuckDB) over a dataset written by socketscope batch",
        description=wrap(
            "Runs one SQL statement (DuckDB) over a dataset written by socketscope batch; "
            "every table is a view. Prints a table, or CSV or JSON with --format."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("dataset", metavar="DATASET", help="a dataset directory written by socketscope batch")
    q.add_argument("sql", metavar="SQL", help="one SQL statement (DuckDB); the tables are views")
    q.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default: aligned columns, long cells cut), csv or json (every value whole)",
    )
    return q


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    v = _plain(value)
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _table(names: list[str], rows: list[tuple[Any, ...]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    out = sys.stdout
    out.write("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(rows)} rows)\n")


def run_query_command(args: argparse.Namespace) -> int:
    if need_batch_extra("query"):
        return EXIT_CAPTURE
    from analyzer.batch.query import QueryError, run_query

    try:
        names, rows = run_query(args.dataset, args.sql)
    except QueryError as exc:
        print(f"socketscope: query: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(names)
        for row in rows:
            w.writerow(
                [
                    ""
                    if v is None
                    else _plain(v)
                    if not isinstance(_plain(v), list | dict)
                    else json.dumps(_plain(v), ensure_ascii=False)
                    for v in row
                ]
            )
    elif args.format == "json":
        json.dump(
            [dict(zip(names, map(_plain, row), strict=True)) for row in rows],
            sys.stdout,
            ensure_ascii=False,
            indent=1,
        )
        sys.stdout.write("\n")
    else:
        _table(names, rows)
    return EXIT_OK
