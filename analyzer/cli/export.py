"""`socketscope export CAPTURE --format har|jsonl|csv|pcap -o OUT [selection]` (docs/exports.md)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from analyzer.cli.common import (
    EXIT_DAMAGED,
    EXIT_DIFFERENCES,
    EXIT_NOT_CAPTURE,
    EXIT_OK,
    EXIT_USAGE,
    OutputError,
    add_decode_as_option,
    add_frame_records_option,
    add_inflate_budget_option,
    add_jobs_option,
    add_keylog_option,
    add_quiet_option,
    frame_records,
    inflate_budget_bytes,
    jobs_for,
    jobs_progress,
    load_keylogs,
    output_problem,
    progress_bar,
    wrap,
)

if TYPE_CHECKING:
    from analyzer.export.select import Selection, StreamedSelection

__all__ = ["add_export_parser", "run_export"]

FORMATS = ("har", "jsonl", "csv", "pcap")
_FILTERED = {  # the record kinds (analyzer.query.KINDS) a format's --filter tests
    "har": ("http", "ws_msg"),
    "csv": ("sio", "eio", "ws_msg", "http", "tcp", "anomaly"),
    "pcap": ("sio", "eio", "ws_msg", "http", "tcp"),
    "jsonl": ("sio", "eio", "ws_msg"),
    "socketio": ("sio",),
    "engineio": ("eio",),
    "websocket": ("ws_msg",),
}
EPILOG = """\
examples:
  socketscope export capture.pcap --format har -o capture.har
  socketscope export capture.pcap --format jsonl --event chat --namespace / -o chat.jsonl
  socketscope export capture.pcap --format jsonl --filter 'ack.latency_ms > 200' -o slow.jsonl
  socketscope export capture.pcap --format csv -o tables/
  socketscope export capture.pcap --format pcap --sid SID -o session.pcapng
  socketscope export capture.pcap --format pcap --filter 'sio.event == "chat"' -o chat.pcapng

A progress bar is shown on stderr while the capture is read, when stderr is a terminal
(not with --quiet).

exit codes:
  0  success
  2  usage error (bad option or value, output not writable)
  3  the file is not a readable capture
  4  the capture is damaged (truncated or corrupt): everything up to the damage is exported
  1  a worker process of --jobs failed (one line on stderr: what a crash of one process gives)"""


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    e: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="export a capture as HAR, JSON Lines, CSV tables or a pcapng slice",
        description=wrap(
            "Export (part of) a capture: har (HAR 1.2: HTTP exchanges and WebSockets, for "
            "browser DevTools), jsonl (one JSON object per decoded message at one layer), csv (one table "
            "per record kind, in the folder -o names) or pcap (the selected connections' packets as "
            "pcapng). Repeating a selection option widens it; different options narrow each other. "
            "Columns, fields and selection rules: docs/exports.md."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("capture", help="the pcap or pcapng file to export from")
    e.add_argument("--format", required=True, choices=FORMATS, help="what to write (required)")
    e.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file ('-' for stdout), or a directory for --format csv",
    )
    e.add_argument(
        "--connection",
        action="append",
        type=int,
        default=[],
        metavar="ID",
        help="TCP connection id (repeatable)",
    )
    e.add_argument("--sid", action="append", default=[], help="Engine.IO session id (repeatable)")
    e.add_argument("--namespace", action="append", default=[], metavar="NSP", help="Socket.IO namespace")
    e.add_argument("--event", action="append", default=[], metavar="NAME", help="Socket.IO event name")
    e.add_argument(
        "--layer",
        choices=("websocket", "engineio", "socketio"),
        help="JSON Lines only: which layer's messages (default socketio when there is Socket.IO, "
        "else engineio when there are Engine.IO sessions, else websocket)",
    )
    e.add_argument(
        "--filter",
        metavar="EXPR",
        help="keep the records EXPR matches (docs/filters.md; every format: CSV rows, HAR entries "
        "and WebSocket messages, the packets of the kept records in a pcapng slice), e.g. "
        "'sio.event == \"chat\" && ack.latency_ms > 200'",
    )
    add_decode_as_option(e)
    add_keylog_option(e)
    e.add_argument(
        "--csv-raw",
        action="store_true",
        help="CSV only: do not prefix cells starting with = + - @ with a quote (spreadsheet safety)",
    )
    add_inflate_budget_option(e)
    add_frame_records_option(e)
    add_quiet_option(e)
    add_jobs_option(e)
    return e


def _err(capture: str, message: str) -> None:
    print(f"socketscope: {capture}: {message}", file=sys.stderr)


@contextlib.contextmanager
def _text_out(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        yield fh


@contextlib.contextmanager
def _binary_out(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as fh:
        yield fh


def run_export(args: argparse.Namespace) -> int:
    from analyzer.capture.pcapfile import CaptureError, open_capture
    from analyzer.export.select import Selection

    fmt: str = args.format
    if args.layer is not None and fmt != "jsonl":
        print("socketscope: export: --layer applies to --format jsonl only", file=sys.stderr)
        return EXIT_USAGE
    if args.filter is not None:
        from analyzer.query import FilterError, compile_filter

        try:
            args.flt = compile_filter(args.filter)
        except FilterError as exc:
            print(f"socketscope: export: {exc}\n{exc.caret()}", file=sys.stderr)
            return EXIT_USAGE
        warning = args.flt.kind_warning(_FILTERED[fmt if fmt != "jsonl" else args.layer or fmt])
        if warning is not None:  # only negations can keep anything: likely not what was meant
            print(f"socketscope: export: warning: {warning}", file=sys.stderr)
    if fmt == "csv" and args.output == "-":
        print("socketscope: export: --format csv writes several files: -o wants a directory", file=sys.stderr)
        return EXIT_USAGE
    problem = output_problem(args.output, args.capture, directory=fmt == "csv")
    if problem is not None:  # checked now: the output is written once the whole capture is read
        print(f"socketscope: export: {problem}", file=sys.stderr)
        return EXIT_USAGE
    decode_as = dict(args.decode_as)
    try:
        args.keys = load_keylogs(args.keylog)
    except OutputError as exc:
        print(f"socketscope: export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        reader = open_capture(args.capture)
    except CaptureError as exc:
        _err(args.capture, str(exc))
        return EXIT_NOT_CAPTURE
    selection = Selection.of(args.connection, args.sid, args.namespace, args.event)
    return _export_streamed(args, reader, selection, decode_as)


def _export_streamed(args: argparse.Namespace, reader: Any, selection: Selection, decode_as: Any) -> int:
    """Every export is a sink, made while the capture is read (the selection is worked out as
    connections and sessions end: analyzer/export/select.py)."""
    from analyzer.pipeline.shards import JobsError
    from analyzer.query import FilterRunError

    sink: StreamedSelection | None = None
    try:
        with _sink(args, selection) as sink, progress_bar(reader, args.quiet) as progress:
            _run(args, reader, sink, decode_as, progress)
    except BrokenPipeError:
        pass
    except JobsError as exc:
        reader.close()
        print(f"socketscope: export: {exc}", file=sys.stderr)
        return EXIT_DIFFERENCES
    except FilterRunError as exc:
        reader.close()
        print(f"socketscope: export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        reader.close()
        print(f"socketscope: export: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    assert sink is not None
    _warn_unknown(args, sink.connection_ids, sink.sids)
    if not selection.everything and not sink.selected_connections:
        _err(args.capture, "warning: the selection matches nothing; the export is empty")
    if reader.error:
        _err(args.capture, reader.error)
        return EXIT_DAMAGED
    return EXIT_OK


@contextlib.contextmanager
def _sink(args: argparse.Namespace, selection: Selection) -> Iterator[StreamedSelection]:
    """The sink of --format, writing to -o (opened here, closed or flushed after the run)."""
    from analyzer.export.csv_stream import CsvSink
    from analyzer.export.har_stream import HarSink
    from analyzer.export.jsonl_stream import JsonlSink
    from analyzer.export.pcapslice import PcapSliceSink

    if args.format == "csv":
        yield CsvSink(args.output, selection, raw=args.csv_raw, flt=getattr(args, "flt", None))
    elif args.format == "pcap":
        with _binary_out(args.output) as bout:
            yield PcapSliceSink(bout, selection, capture=args.capture, flt=getattr(args, "flt", None))
    else:
        with _text_out(args.output) as out:
            if args.format == "jsonl":
                yield JsonlSink(out, selection, args.layer, getattr(args, "flt", None))
            else:
                yield HarSink(
                    out,
                    selection,
                    comment=f"socketscope export of {args.capture}",
                    capture=args.capture,
                    flt=getattr(args, "flt", None),
                )


def _warn_unknown(args: argparse.Namespace, ids: set[int], sids: set[str]) -> None:
    for cid in args.connection:
        if cid not in ids:
            _err(args.capture, f"warning: no TCP connection {cid}")
    for sid in args.sid:
        if sid not in sids:
            _err(args.capture, f"warning: no Engine.IO session {sid!r}")


def _run(args: argparse.Namespace, reader: Any, sink: Any, decode_as: Any, progress: Any) -> None:
    """The pipeline over the capture into the sink: with --jobs, by several processes
    (analyzer/pipeline/shards.py; one when they cannot give one run's output), else by this one."""
    from analyzer.export.run import export_capture, export_options
    from analyzer.pipeline.shards import run_jobs

    budget, frames = inflate_budget_bytes(args), frame_records(args)
    jobs = jobs_for(args, args.capture)
    if jobs > 1:
        options = export_options(decode_as, args.keys, budget, frames)
        told = jobs_progress(progress, jobs)
        if run_jobs(args.capture, options, sink, jobs=jobs, progress=told) is not None:
            reader.close()
            return
    export_capture(
        reader,
        sink,
        decode_as=decode_as,
        progress=progress,
        keylog=args.keys,
        inflate_budget_bytes=budget,
        max_frame_records=frames,
    )
