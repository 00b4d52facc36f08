"""`socketscope live`: capture on an interface, decode as packets arrive, print, summarise at the end.

Exit codes: 0 done; 2 usage (unknown interface, invalid capture filter, bad option);
5 the capture could not run (no capture privilege, capture tool missing or failing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import threading
from typing import IO, TYPE_CHECKING, Any

from analyzer.cli.common import (
    EXIT_CAPTURE,
    EXIT_OK,
    EXIT_USAGE,
    add_decode_as_option,
    add_engine_option,
    add_frame_records_option,
    add_inflate_budget_option,
    add_keylog_option,
    frame_records,
    inflate_budget_bytes,
    wrap,
)

if TYPE_CHECKING:
    from analyzer.model.analysis import Analysis
    from analyzer.pipeline import Sink

__all__ = ["add_live_parser", "run_live"]


LIVE_EPILOG = """\
examples:
  sudo socketscope live -i lo -f 'tcp port 5000'
  sudo socketscope live -i eth0 -f 'tcp port 443 or tcp port 80' -w out.pcapng --duration 30
  sudo socketscope live -i lo --format jsonl --count 1000 > live.jsonl
  SSLKEYLOGFILE=/tmp/keys.log chromium &   # then:
  sudo socketscope live -i any -f 'tcp port 443' --keylog /tmp/keys.log

exit codes:
  0  done
  2  usage error (bad option or value, unknown interface, invalid capture filter)
  5  the capture could not run or stopped early (no capture privilege, capture tool
     missing or failing, -w FILE not writable)"""


def add_live_parser(sub: Any) -> None:
    p = sub.add_parser(
        "live",
        help="capture on a network interface and decode as packets arrive",
        description=wrap(
            "Captures on INTERFACE (tcpdump, or dumpcap + tshark with --engine tshark), prints "
            "what it decodes as it arrives (connections, HTTP exchanges, WebSocket messages, Engine.IO "
            "and Socket.IO packets, anomalies), and the summary of `analyze` and the kernel drop count "
            "at the end "
            "(Ctrl-C, --duration or --count). "
            "Needs the capture privilege (root, or CAP_NET_RAW + CAP_NET_ADMIN on the capture tool). "
            "To analyze a file, use `socketscope analyze FILE`."
        ),
        epilog=LIVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-i", "--interface", required=True, help="interface to capture on (e.g. lo, eth0, any)")
    p.add_argument("-f", "--filter", default="", metavar="BPF", help="capture filter, e.g. 'tcp port 5000'")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--count", type=int, metavar="N", help="stop after N packets")
    p.add_argument("-w", "--write", metavar="FILE.pcapng", help="also write every captured packet to FILE")
    p.add_argument(
        "--format",
        choices=["text", "jsonl"],
        default="text",
        help="text: readable lines (default); jsonl: one JSON object per line, the analysis document last",
    )
    add_decode_as_option(p)
    add_inflate_budget_option(p)
    add_frame_records_option(p)
    add_keylog_option(p)
    p.add_argument(
        "--keylog-wait",
        type=float,
        default=1.0,
        metavar="S",
        help="with --keylog: how long to wait for a connection's key-log line that is not written yet "
        "(the files are read again as they grow; default 1 s per connection without a key)",
    )
    p.add_argument(
        "--buffer-size", type=int, default=64, metavar="MIB", help="kernel capture buffer (64 MiB)"
    )
    p.add_argument("--no-payloads", action="store_true", help="do not print message previews")
    p.add_argument("--messages", action="store_true", help="final summary: list WebSocket messages")
    p.add_argument("--events", action="store_true", help="final summary: list Socket.IO events")
    add_engine_option(p)
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no informational lines on stderr (what is captured, packets written); errors are still printed",
    )


def run_live(args: argparse.Namespace) -> int:
    from analyzer.capture.live import LiveCapture
    from analyzer.capture.livetools import LiveError
    from analyzer.export.text.live import LivePrinter
    from analyzer.model.analysis import CaptureInfo
    from analyzer.pipeline import Options, Pipeline

    if args.duration is not None and args.duration <= 0:
        print("socketscope: --duration must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.count is not None and args.count <= 0:
        print("socketscope: --count must be positive", file=sys.stderr)
        return EXIT_USAGE
    keylog = _growing_keylog(args)
    if isinstance(keylog, str):
        print(f"socketscope: {keylog}", file=sys.stderr)
        return EXIT_USAGE
    out = sys.stdout
    printer = LivePrinter(out, args.format, payloads=not args.no_payloads)
    options = Options(
        keylog=keylog,
        decode_as=dict(args.decode_as),
        observer=printer,
        spill_records=True,
        inflate_budget_bytes=inflate_budget_bytes(args),
        max_frame_records=frame_records(args),
    )
    final, document = _final_sink(args, out)
    pipe = Pipeline(CaptureInfo(path=f"live:{args.interface}", format="live"), options, final)
    capture = LiveCapture(
        args.interface,
        args.filter,
        pipe.feed,
        engine=args.engine,
        write=args.write,
        count=args.count,
        buffer_mib=max(1, args.buffer_size),
    )
    previous = _on_stop_signals()
    try:
        capture.start()
    except LiveError as exc:
        _restore(previous)
        print(f"socketscope: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.kind in ("no-such-interface", "bad-filter") else EXIT_CAPTURE
    except KeyboardInterrupt:  # stopped while the tool was starting (start() stopped the tool)
        _restore(previous)
        print("socketscope: stopped before the capture started", file=sys.stderr)
        return EXIT_OK
    if not args.quiet:
        _announce(args, capture.source.tool)
    try:
        capture.wait(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        stats = _stop(capture, previous)
    summary = pipe.finish()  # also reports the connections still open (their tcp_close lines)
    printer.capture_stats(stats.to_dict(), args.interface)
    with contextlib.suppress(OSError):  # a closed pipe, or the terminal gone (SIGHUP)
        _write_final(out, final, summary, stats.to_dict(), document)
    if capture.write_error:  # disk full, I/O error: the capture stopped there
        print(
            f"socketscope: {capture.write_error} (the capture stopped after {stats.packets} packets).",
            file=sys.stderr,
        )
        return EXIT_CAPTURE
    if args.write and not args.quiet:
        print(f"socketscope: {stats.packets} packets written to {args.write}", file=sys.stderr)
    if stats.error:
        print(f"socketscope: the capture stopped early: {stats.error}", file=sys.stderr)
        return EXIT_CAPTURE
    return EXIT_OK


def _growing_keylog(args: argparse.Namespace) -> Any:
    """The --keylog files as a GrowingKeyLog (read again as the browser appends to them), None
    without any, or why one cannot be used (a sentence). A file that does not exist yet is fine:
    SSLKEYLOGFILE is created by the browser's first TLS connection."""
    paths = list(getattr(args, "keylog", None) or [])
    if not paths:
        return None
    wait = float(getattr(args, "keylog_wait", 1.0))
    if not 0 <= wait <= 60:
        return "--keylog-wait must be between 0 and 60 seconds"
    import os

    for path in paths:
        if os.path.isdir(path):
            return f"the key log {path} is a directory"
    from analyzer.pipeline.livekeys import GrowingKeyLog

    return GrowingKeyLog(paths, wait=wait)


def _final_sink(args: argparse.Namespace, out: IO[str]) -> tuple[Sink, IO[str] | None]:
    """The final summary or document, made as connections and sessions end (a long capture costs
    the memory of its open connections): the text summary, or the JSON document in a temporary
    file (returned too), copied out at the end."""
    from analyzer.export.jsonstream import StreamingJsonWriter
    from analyzer.export.text.stream import StreamingTextSummary

    if args.format == "jsonl":
        document = tempfile.TemporaryFile("w+", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        return StreamingJsonWriter(document), document
    return StreamingTextSummary(out, messages=args.messages, events=args.events), None


def _announce(args: argparse.Namespace, tool: str) -> None:
    what = f" (filter {args.filter!r})" if args.filter else ""
    until = []
    if args.duration is not None:
        until.append(f"{args.duration:g} s")
    if args.count is not None:
        until.append(f"{args.count} packets")
    stop_when = f"after {' or '.join(until)} or on Ctrl-C" if until else "on Ctrl-C"
    print(f"socketscope: capturing on {args.interface}{what} with {tool}; stops {stop_when}", file=sys.stderr)


def _write_final(
    out: IO[str], final: Sink, summary: Analysis, stats: dict[str, Any], document: IO[str] | None
) -> None:
    """After the live lines: the text summary, or one JSON line with the capture's statistics
    and the analysis document."""
    if document is not None:
        final.finish(summary)
        live = json.dumps(stats, ensure_ascii=False, default=str)
        out.write('{"type": "analysis", "live": ' + live + ', "analysis": ')
        document.seek(0)
        for block in iter(lambda: document.read(1 << 20), ""):
            out.write(block.rstrip("\n"))  # the document's own last line end
        out.write("}\n")
        document.close()
    else:
        out.write("\n")
        final.finish(summary)
    out.flush()


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _on_stop_signals() -> dict[int, Any]:
    """SIGTERM (`timeout`, service managers) and SIGHUP (the terminal went away) stop the capture
    as Ctrl-C does: the tool is stopped, never left capturing, and the summary printed. Returns
    the handlers they replace."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                previous[sig] = signal.signal(sig, _interrupt)
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        with contextlib.suppress(ValueError, TypeError, OSError):
            signal.signal(sig, handler)


def _stop(capture: Any, previous: dict[int, Any] | None = None) -> Any:
    """Stop the capture; another Ctrl-C or stop signal while it drains is ignored (the tool is
    flushing; the stop is bounded, and the tool killed after it)."""
    main = threading.current_thread() is threading.main_thread()
    ignored: dict[int, Any] = {}
    if main:
        for sig in (signal.SIGINT, *_STOP_SIGNALS):
            with contextlib.suppress(ValueError, OSError):
                ignored[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        return capture.stop(60.0)
    finally:
        _restore({**ignored, **(previous or {})})
