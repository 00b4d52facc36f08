"""`socketscope crosscheck CAPTURE`: socketscope's dissection against Wireshark's (tshark), frame by frame.

Exit codes: 0 everything agrees or every difference is explained; 1 unexplained differences;
2 usage; 3 not a capture; 5 tshark is missing or failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["EXIT_DIFFERENCES", "EXIT_TOOL", "add_crosscheck_parser", "run_crosscheck"]

EXIT_DIFFERENCES = 1
EXIT_TOOL = 5


def add_crosscheck_parser(sub: Any) -> None:
    p = sub.add_parser(
        "crosscheck",
        help="compare socketscope's dissection with Wireshark's (tshark), frame by frame",
        description="Runs tshark on the same capture and compares TCP connections, HTTP messages, WebSocket "
        "frames and messages with socketscope's; explains each difference it knows.",
    )
    p.add_argument("capture")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument(
        "--decode-as",
        action="append",
        default=[],
        metavar="PORT=websocket",
        help="decode TCP PORT as WebSocket on both sides (tshark gets -d tcp.port==PORT,websocket)",
    )
    p.add_argument(
        "--tshark-defaults",
        action="store_true",
        help="do not give tshark -d tcp.port==N,http for the ports where socketscope found HTTP",
    )
    p.add_argument("--tshark", default="tshark", metavar="PATH", help="the tshark to run")


def run_crosscheck(args: argparse.Namespace) -> int:
    from analyzer.capture.pcapfile import CaptureError
    from analyzer.cli import EXIT_NOT_CAPTURE, EXIT_OK, _decode_as
    from analyzer.crosscheck import crosscheck, print_report
    from analyzer.crosscheck_tshark import TsharkError
    from analyzer.pipeline import Options

    options = Options(decode_as=_decode_as(args.decode_as))
    try:
        report = crosscheck(args.capture, options, tshark=args.tshark, decode_as=not args.tshark_defaults)
    except CaptureError as exc:
        print(f"socketscope: {args.capture}: {exc}", file=sys.stderr)
        return EXIT_NOT_CAPTURE
    except TsharkError as exc:
        print(f"socketscope: {exc}", file=sys.stderr)
        return EXIT_TOOL
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump(report.to_dict(), out, indent=1, ensure_ascii=False, default=str)
            out.write("\n")
        else:
            print_report(report, out)
    except BrokenPipeError:
        pass
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK if report.ok else EXIT_DIFFERENCES
