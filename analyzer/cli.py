"""Command line: `socketscope analyze | serve | live | export | crosscheck`.

Exit codes: 0 success; 2 usage error; 3 the input is not a readable capture;
4 the capture is damaged (truncated or corrupt): results up to the damage were printed.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from typing import IO

from analyzer.cli_common import (
    EXIT_CODES,
    OutputError,
    add_decode_as_option,
    add_quiet_option,
    open_output,
    progress_bar,
    wrap,
)
from analyzer.version import __version__

__all__ = ["EXIT_DAMAGED", "EXIT_NOT_CAPTURE", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_USAGE, EXIT_NOT_CAPTURE, EXIT_DAMAGED = 0, 2, 3, 4

MAIN_EPILOG = """\
examples:
  socketscope analyze capture.pcapng
  socketscope export capture.pcap --format har -o capture.har
  socketscope serve capture.pcap
  sudo socketscope live -i lo -f 'tcp port 5000'

exit codes: 0 success, 2 usage error, 3 not a readable capture, 4 damaged capture,
5 (live, crosscheck) the capture or tshark could not run; crosscheck: 1 unexplained differences."""

ANALYZE_EPILOG = f"""\
examples:
  socketscope analyze capture.pcapng
  socketscope analyze capture.pcap --messages --events
  socketscope analyze capture.pcap --format json -o analysis.json
  socketscope analyze midstream.pcap --decode-as 9696=websocket

A progress bar is shown on stderr when it is a terminal (not with --quiet).

{EXIT_CODES}"""


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
    p.add_argument("--version", action="version", version=f"socketscope {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser(
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
    add_quiet_option(a)
    from analyzer.cli_live import add_engine_option, add_live_parser

    add_engine_option(a)
    add_live_parser(sub)
    from analyzer.cli_crosscheck import add_crosscheck_parser

    add_crosscheck_parser(sub)
    from analyzer.cli_serve import add_serve_parser

    add_serve_parser(sub)
    from analyzer.cli_export import add_export_parser

    add_export_parser(sub)
    from analyzer.cli_bench import add_bench_parser

    add_bench_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from analyzer.cli_serve import run_serve

        return run_serve(args)
    if args.command == "analyze":
        return _analyze(args)
    if args.command == "live":
        from analyzer.cli_live import run_live

        return run_live(args)
    if args.command == "crosscheck":
        from analyzer.cli_crosscheck import run_crosscheck

        return run_crosscheck(args)
    if args.command == "export":
        from analyzer.cli_export import run_export

        return run_export(args)
    if args.command == "bench":
        from analyzer.cli_bench import run_bench

        return run_bench(args)
    return EXIT_USAGE


def _analyze(args: argparse.Namespace) -> int:
    from analyzer.capture.pcapfile import CaptureError, open_capture
    from analyzer.export.jsonstream import StreamingJsonWriter
    from analyzer.export.textstream import StreamingTextSummary
    from analyzer.pipeline import Options, analyze_reader

    text_only = [f"--{k}" for k in ("messages", "events", "anomalies") if getattr(args, k, False)]
    if args.format == "json" and text_only:
        print(
            f"socketscope analyze: {', '.join(text_only)} cannot be used with --format json"
            " (they shape the text summary; the JSON document holds everything)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # both outputs are made while the capture is read: memory follows open connections only
    options = Options(decode_as=dict(args.decode_as), retain_connections=False, spill_records=True)
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
                    out, messages=args.messages, events=args.events, anomalies=args.anomalies
                )
            analysis = analyze_reader(
                reader, options, on_connection=writer.connection, progress=progress, on_session=writer.session
            )
            writer.finish(analysis)
    except BrokenPipeError:
        return EXIT_OK
    finally:
        if out is not sys.stdout:
            out.close()
    if analysis.capture.error:
        print(f"socketscope: {args.capture}: {analysis.capture.error}", file=sys.stderr)
        return EXIT_DAMAGED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
