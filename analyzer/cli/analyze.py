"""`socketscope analyze CAPTURE`: the text summary or the analysis document of a capture."""

from __future__ import annotations

import argparse
import io
import sys
from typing import IO, Any

from analyzer.cli.common import (
    EXIT_CODES,
    EXIT_DAMAGED,
    EXIT_DIFFERENCES,
    EXIT_NOT_CAPTURE,
    EXIT_OK,
    EXIT_USAGE,
    OutputError,
    add_decode_as_option,
    add_engine_option,
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
    open_output,
    progress_bar,
    wrap,
)

__all__ = ["add_analyze_parser", "run_analyze"]

ANALYZE_EPILOG = f"""\
examples:
  socketscope analyze capture.pcapng
  socketscope analyze capture.pcap --messages --events
  socketscope analyze capture.pcap --format json -o analysis.json
  socketscope analyze midstream.pcap --decode-as 9696=websocket
  socketscope analyze wss.pcapng --keylog keys.log --messages
  socketscope analyze capture.pcap --events --filter 'sio.event == "chat" && ack.latency_ms > 200'
  socketscope analyze capture.pcap --anomalies --filter 'anomaly.severity in {"warn", "error"}'

A progress bar is shown on stderr when it is a terminal (not with --quiet).

{EXIT_CODES}"""


def add_analyze_parser(subparsers: Any) -> argparse.ArgumentParser:
    a: argparse.ArgumentParser = subparsers.add_parser(
        "analyze",
        help="analyze a pcap or pcapng file",
        description=wrap(
            "Read a capture and report it layer by layer: the capture, its TCP connections "
            "(handshake, RTT, retransmissions, gaps, teardown), HTTP/1.1, WebSocket, Engine.IO and "
            "Socket.IO, and every anomaly found. The text summary is written for people; --format json "
            "writes the whole analysis document (docs/analysis-json.md)."
        ),
        epilog=ANALYZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("capture", help="the pcap or pcapng file to analyze")
    a.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: readable summary (default); json: the analysis document",
    )
    a.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    add_decode_as_option(a)
    add_keylog_option(a)
    a.add_argument(
        "--messages",
        action="store_true",
        help="print WebSocket messages as a log, anomalies marked '!!' (text format only)",
    )
    a.add_argument(
        "--events",
        action="store_true",
        help="print Socket.IO events as a log, anomalies marked '!!' (text format only)",
    )
    a.add_argument(
        "--anomalies",
        action="store_true",
        help="list every anomaly (frames, connection or session, direction, message), not one line per code"
        " (text format only)",
    )
    a.add_argument(
        "--filter",
        metavar="EXPR",
        help="keep only the messages, events and anomalies that EXPR matches, e.g. "
        "'ws.opcode == 8', 'payload contains \"token\"' (with --messages, --events, --anomalies; "
        "the language and its fields: docs/filters.md)",
    )
    add_inflate_budget_option(a)
    add_frame_records_option(a)
    add_quiet_option(a)
    add_engine_option(a)
    add_jobs_option(a)
    return a


def _compile(args: argparse.Namespace) -> tuple[Any, int | None]:
    """The --filter of the command line, or the exit code of a filter that is not one."""
    from analyzer.query import FilterError, compile_filter

    if args.filter is None:
        return None, None
    kinds = [
        k
        for k, opt in (("ws_msg", "messages"), ("sio", "events"), ("anomaly", "anomalies"))
        if getattr(args, opt)
    ]
    if not kinds:
        print(
            "socketscope analyze: --filter keeps lines of --messages, --events or --anomalies:"
            " give one of them",
            file=sys.stderr,
        )
        return None, EXIT_USAGE
    try:
        flt = compile_filter(args.filter)
    except FilterError as exc:
        print(f"socketscope analyze: {exc}\n{exc.caret()}", file=sys.stderr)
        return None, EXIT_USAGE
    warning = flt.kind_warning(kinds)
    if warning is not None:
        print(f"socketscope analyze: warning: {warning}", file=sys.stderr)
    return flt, None


def run_analyze(args: argparse.Namespace) -> int:
    from analyzer.capture.pcapfile import CaptureError, open_capture
    from analyzer.export.jsonstream import StreamingJsonWriter
    from analyzer.export.text.stream import StreamingTextSummary
    from analyzer.pipeline.shards import JobsError
    from analyzer.query import FilterRunError

    text_only = [f"--{k}" for k in ("messages", "events", "anomalies", "filter") if getattr(args, k, None)]
    if args.format == "json" and text_only:
        print(
            f"socketscope analyze: {', '.join(text_only)} cannot be used with --format json"
            " (they shape the text summary; the JSON document holds everything)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    flt, failed = _compile(args)
    if failed is not None:
        return failed
    try:
        keylog = load_keylogs(args.keylog)
    except OutputError as exc:
        print(f"socketscope: analyze: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = _options(args, keylog)
    try:
        opener = open_capture
        if getattr(args, "engine", "builtin") == "tshark":
            from analyzer.capture.tshark import open_tshark_capture

            opener = open_tshark_capture
        reader = opener(args.capture)
    except CaptureError as exc:
        print(f"socketscope: {args.capture}: {exc}", file=sys.stderr)
        return EXIT_NOT_CAPTURE
    # backslashreplace: lone surrogates from JSON on the wire are written as their JSON escape
    out: IO[str]
    if args.output:
        try:
            out = open_output(args.output, args.capture, encoding="utf-8", errors="backslashreplace")
        except OutputError as exc:
            reader.close()
            print(f"socketscope: analyze: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        out = sys.stdout
        if isinstance(out, io.TextIOWrapper):
            out.reconfigure(errors="backslashreplace")
    try:
        with progress_bar(reader, args.quiet) as progress:
            writer: StreamingJsonWriter | StreamingTextSummary
            if args.format == "json":
                writer = StreamingJsonWriter(out)
            else:
                writer = StreamingTextSummary(
                    out, messages=args.messages, events=args.events, anomalies=args.anomalies, flt=flt
                )
            summary = _run(args, reader, options, writer, progress)
    except BrokenPipeError:
        return EXIT_OK
    except JobsError as exc:
        print(f"socketscope: analyze: {exc}", file=sys.stderr)
        return EXIT_DIFFERENCES
    except FilterRunError as exc:
        print(f"socketscope analyze: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if out is not sys.stdout:
            out.close()
    if summary.capture.error:
        print(f"socketscope: {args.capture}: {summary.capture.error}", file=sys.stderr)
        return EXIT_DAMAGED
    return EXIT_OK


def _options(args: argparse.Namespace, keylog: Any) -> Any:
    from analyzer.pipeline import Options

    # both outputs are made while the capture is read: memory follows open connections only
    return Options(
        decode_as=dict(args.decode_as),
        spill_records=True,
        # the text summary reads session packets only for --events: else they are only counted
        spill_session_packets=args.format == "json" or bool(getattr(args, "events", False)),
        keylog=keylog,
        inflate_budget_bytes=inflate_budget_bytes(args),
        max_frame_records=frame_records(args),
    )


def _run(args: argparse.Namespace, reader: Any, options: Any, writer: Any, progress: Any) -> Any:
    """The pipeline over the capture into the writer: with --jobs, by several processes
    (analyzer/pipeline/shards.py; one when they cannot give one run's output), else by this one."""
    from analyzer.pipeline import run
    from analyzer.pipeline.shards import run_jobs

    jobs = jobs_for(args, args.capture)
    if jobs > 1:
        summary = run_jobs(args.capture, options, writer, jobs=jobs, progress=jobs_progress(progress, jobs))
        if summary is not None:
            reader.close()
            return summary
    return run(reader, options, writer, progress=progress)
