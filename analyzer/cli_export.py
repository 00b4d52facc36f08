"""`socketscope export CAPTURE --format har|jsonl|csv|pcap -o OUT [selection]` (docs/exports.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer.export.select import Selection, StreamedSelection

__all__ = ["add_export_parser", "run_export"]

EXIT_OK, EXIT_USAGE, EXIT_NOT_CAPTURE, EXIT_DAMAGED = 0, 2, 3, 4
FORMATS = ("har", "jsonl", "csv", "pcap")


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    e: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="export a capture as HAR, JSON Lines, CSV tables or a pcapng slice",
        description="Export (part of) a capture. Repeating a selection option widens it; "
        "different options narrow each other.",
    )
    e.add_argument("capture")
    e.add_argument("--format", required=True, choices=FORMATS)
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
        "--decode-as",
        action="append",
        default=[],
        metavar="PORT=websocket",
        help="decode TCP PORT as WebSocket (no handshake needed), like tshark -d",
    )
    e.add_argument(
        "--csv-raw",
        action="store_true",
        help="CSV only: do not prefix cells starting with = + - @ with a quote (spreadsheet safety)",
    )
    return e


def _decode_as(values: list[str]) -> dict[int, str] | None:
    out: dict[int, str] = {}
    for v in values:
        port, _, proto = v.partition("=")
        if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("websocket", "http"):
            return None
        out[int(port)] = proto
    return out


def _same_file(output: str, capture: str) -> bool:
    if output == "-":
        return False
    try:
        return os.path.samefile(output, capture)
    except OSError:
        return os.path.abspath(output) == os.path.abspath(capture)


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
    if fmt == "csv" and args.output == "-":
        print("socketscope: export: --format csv writes several files: -o wants a directory", file=sys.stderr)
        return EXIT_USAGE
    if _same_file(args.output, args.capture):
        print("socketscope: export: the output would overwrite the capture", file=sys.stderr)
        return EXIT_USAGE
    decode_as = _decode_as(args.decode_as)
    if decode_as is None:
        print("socketscope: export: --decode-as wants PORT=websocket or PORT=http", file=sys.stderr)
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
    from analyzer.export.run import export_capture

    sink: StreamedSelection | None = None
    try:
        with _sink(args, selection) as sink:
            export_capture(reader, sink, decode_as=decode_as)
    except BrokenPipeError:
        pass
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
        yield CsvSink(args.output, selection, raw=args.csv_raw)
    elif args.format == "pcap":
        with _binary_out(args.output) as bout:
            yield PcapSliceSink(bout, selection, capture=args.capture)
    else:
        with _text_out(args.output) as out:
            if args.format == "jsonl":
                yield JsonlSink(out, selection, args.layer)
            else:
                yield HarSink(
                    out, selection, comment=f"socketscope export of {args.capture}", capture=args.capture
                )


def _warn_unknown(args: argparse.Namespace, ids: set[int], sids: set[str]) -> None:
    for cid in args.connection:
        if cid not in ids:
            _err(args.capture, f"warning: no TCP connection {cid}")
    for sid in args.sid:
        if sid not in sids:
            _err(args.capture, f"warning: no Engine.IO session {sid!r}")
