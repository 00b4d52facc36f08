"""Command line: `socketscope analyze | serve | live | export | crosscheck`.

Exit codes: 0 success; 2 usage error; 3 the input is not a readable capture;
4 the capture is damaged (truncated or corrupt): results up to the damage were printed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from typing import IO

from analyzer.version import __version__

__all__ = ["EXIT_DAMAGED", "EXIT_NOT_CAPTURE", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_USAGE, EXIT_NOT_CAPTURE, EXIT_DAMAGED = 0, 2, 3, 4


def _decode_as(values: list[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for v in values:
        port, _, proto = v.partition("=")
        if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("websocket", "http"):
            raise SystemExit(f"socketscope: --decode-as wants PORT=websocket or PORT=http, not {v!r}")
        out[int(port)] = proto
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="socketscope", description="WebSocket / Engine.IO / Socket.IO analyzer")
    p.add_argument("--version", action="version", version=f"socketscope {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="analyze a pcap or pcapng file")
    a.add_argument("capture")
    a.add_argument("--format", choices=["text", "json"], default="text")
    a.add_argument("-o", "--output", help="write to this file instead of stdout")
    a.add_argument(
        "--decode-as",
        action="append",
        default=[],
        metavar="PORT=websocket",
        help="decode TCP PORT as WebSocket (no handshake needed), like tshark -d",
    )
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
    a.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
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
    options = Options(decode_as=_decode_as(args.decode_as), retain_connections=False, spill_records=True)
    try:
        opener = open_capture
        if getattr(args, "engine", "builtin") == "tshark":
            from analyzer.capture.tshark import open_tshark_capture

            opener = open_tshark_capture
        reader = opener(args.capture)
    except CaptureError as exc:
        print(f"socketscope: {args.capture}: {exc}", file=sys.stderr)
        return EXIT_NOT_CAPTURE
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        progress = _progress_bar(args.capture)
    # backslashreplace: lone surrogates from JSON on the wire are written as their JSON escape
    out: IO[str]
    if args.output:
        out = open(args.output, "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    else:
        out = sys.stdout
        if isinstance(out, io.TextIOWrapper):
            out.reconfigure(errors="backslashreplace")
    try:
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
        if progress is not None:
            sys.stderr.write("\r\033[K")
        if out is not sys.stdout:
            out.close()
    if analysis.capture.error:
        print(f"socketscope: {args.capture}: {analysis.capture.error}", file=sys.stderr)
        return EXIT_DAMAGED
    return EXIT_OK


def _progress_bar(path: str):  # type: ignore[no-untyped-def]
    total = max(os.path.getsize(path), 1)
    avg = [0]

    def show(packets: int) -> None:
        avg[0] = packets
        sys.stderr.write(f"\r{packets:,} packets read of a {total / 1e6:,.1f} MB file")
        sys.stderr.flush()

    return show


if __name__ == "__main__":
    sys.exit(main())
