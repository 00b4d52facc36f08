"""`socketscope crosscheck CAPTURE`: socketscope's dissection against Wireshark's (tshark), frame by frame.

Exit codes: 0 everything agrees or every difference is explained; 1 unexplained differences;
2 usage; 3 not a capture; 5 tshark is missing or failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from analyzer.cli.common import (
    EXIT_CAPTURE,
    EXIT_DIFFERENCES,
    EXIT_NOT_CAPTURE,
    EXIT_OK,
    EXIT_USAGE,
    OutputError,
    add_decode_as_option,
    add_keylog_option,
    add_quiet_option,
    load_keylogs,
    merged_keylog_file,
    open_output,
    progress_bar,
    wrap,
)

__all__ = ["EXIT_CAPTURE", "EXIT_DIFFERENCES", "add_crosscheck_parser", "run_crosscheck"]


EPILOG = """\
examples:
  socketscope crosscheck capture.pcap
  socketscope crosscheck capture.pcap --format json -o report.json
  socketscope crosscheck midstream.pcap --decode-as 9696=websocket
  socketscope crosscheck wss.pcapng --keylog keys.log    # tshark gets the same keys

A progress bar is shown on stderr while socketscope reads the capture, when stderr is a
terminal (not with --quiet).

exit codes:
  0  everything agrees, or every difference is explained
  1  unexplained differences
  2  usage error (bad option or value, output not writable)
  3  the file is not a readable capture
  5  tshark is missing or failed"""


def add_crosscheck_parser(sub: Any) -> None:
    p = sub.add_parser(
        "crosscheck",
        help="compare socketscope's dissection with Wireshark's (tshark), frame by frame",
        description=wrap(
            "Runs tshark on the same capture and compares TCP connections, HTTP messages, WebSocket "
            "frames and messages with socketscope's; explains each difference it knows (e.g. tshark 4.0 not "
            "inflating fragmented permessage-deflate messages). tshark gets -d tcp.port==N,http for the "
            "ports where socketscope found HTTP (tls where it found TLS), and the keys of --keylog "
            "(-o tls.keylog_file:)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("capture", help="the pcap or pcapng file to compare")
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: readable report (default); json: the report as a JSON document",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    add_decode_as_option(p, " (on both sides: tshark gets -d tcp.port==PORT,PROTO)")
    p.add_argument(
        "--tshark-defaults",
        action="store_true",
        help="do not give tshark -d tcp.port==N,http for the ports where socketscope found HTTP",
    )
    p.add_argument("--tshark", default="tshark", metavar="PATH", help="the tshark to run (default: tshark)")
    add_keylog_option(p)
    add_quiet_option(p)


def run_crosscheck(args: argparse.Namespace) -> int:
    from analyzer.capture.pcapfile import CaptureError, open_capture
    from analyzer.crosscheck.compare import crosscheck, print_report
    from analyzer.crosscheck.tshark import TsharkError
    from analyzer.pipeline import Options

    try:
        keylog = load_keylogs(args.keylog)
    except OutputError as exc:
        print(f"socketscope: crosscheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = Options(decode_as=dict(args.decode_as), keylog=keylog)
    try:
        reader = open_capture(args.capture)
    except CaptureError as exc:
        print(f"socketscope: {args.capture}: {exc}", file=sys.stderr)
        return EXIT_NOT_CAPTURE
    out: IO[str] = sys.stdout
    if args.output:
        try:
            out = open_output(args.output, args.capture, encoding="utf-8")
        except OutputError as exc:
            reader.close()
            print(f"socketscope: crosscheck: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        with progress_bar(reader, args.quiet) as progress, merged_keylog_file(args.keylog) as keyfile:
            report = crosscheck(
                args.capture,
                options,
                tshark=args.tshark,
                decode_as=not args.tshark_defaults,
                reader=reader,
                progress=progress,
                status=progress.status if progress is not None else None,
                keylog_file=keyfile,
            )
        if args.format == "json":
            json.dump(report.to_dict(), out, indent=1, ensure_ascii=False, default=str)
            out.write("\n")
        else:
            print_report(report, out)
    except TsharkError as exc:
        print(f"socketscope: {exc}", file=sys.stderr)
        return EXIT_CAPTURE
    except OutputError as exc:  # a key log that could be read a moment ago cannot any more
        print(f"socketscope: crosscheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        pass
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK if report.ok else EXIT_DIFFERENCES
