"""`socketscope serve [CAPTURE ...]`: the web UI (Flask), on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import socket
import sys
from typing import Any

from analyzer.cli.common import (
    EXIT_CAPTURE,
    EXIT_OK,
    EXIT_USAGE,
    OutputError,
    add_inflate_budget_option,
    add_keylog_option,
    load_keylogs,
    wrap,
)

__all__ = ["add_serve_parser", "is_loopback", "run_serve", "serve_url"]

EPILOG = """\
examples:
  socketscope serve                        # the captures of ./captures/, and uploads
  socketscope serve capture.pcap other.pcapng --port 8080
  socketscope serve --allow-live           # adds the Live page (needs the capture privilege)
  socketscope serve --dataset dataset/     # adds /dataset, across a `socketscope batch` dataset
  socketscope serve wss.pcapng --keylog keys.log   # decrypts TLS in every capture it serves

It prints its URL and serves until Ctrl-C; loopback only unless --host says otherwise.

exit codes:
  0  stopped with Ctrl-C
  2  usage error (a CAPTURE that does not exist, a bad --port or --upload-dir, a --keylog
     that cannot be read, the address cannot be listened on)"""
DEFAULT_IDLE_TIMEOUT = 30.0  # seconds a connection may stay silent (a slow client keeps a thread)
DEFAULT_UPLOAD_SLOTS = 2  # = webui.DEFAULT_UPLOAD_SLOTS (not imported: the parser loads no Flask)


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    s: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="browse captures in a web UI (timeline, sequence diagrams, messages, latency)",
        description=wrap(
            "Serves the web UI: per capture an overview with the OSI stack, a timeline, "
            "sequence diagrams, a messages table, packet-level detail, latency and anomalies, and the same "
            "data as JSON under /api/. It lists the pcap/pcapng files of captures/ in the current "
            "directory (when there is one), the files named on the command line and uploads."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument(
        "captures",
        nargs="*",
        metavar="CAPTURE",
        help="pcap/pcapng files to list (besides those of ./captures/ and uploads)",
    )
    s.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    s.add_argument(
        "--port", type=int, default=8050, help="port to listen on (default 8050; 0 picks a free one)"
    )
    s.add_argument(
        "--captures-dir",
        action="append",
        default=None,
        metavar="DIR",
        help="folder whose captures are listed, instead of ./captures/ (the current directory's captures "
        "folder, when there is one); repeatable",
    )
    s.add_argument(
        "--upload-dir", metavar="DIR", help="where uploads are kept (default: a new temporary folder)"
    )
    s.add_argument(
        "--max-upload-mb",
        type=int,
        default=256,
        metavar="MIB",
        help="largest accepted upload, MiB (default 256)",
    )
    add_inflate_budget_option(s)
    add_keylog_option(s)
    s.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer to this host name (besides the loopback names, the bound address and, "
        "bound to 0.0.0.0 or ::, this machine's names and addresses); repeatable",
    )
    s.add_argument(
        "--dataset",
        metavar="DATASET",
        help="also serve /dataset: a page across the captures of a `socketscope batch` dataset (needs "
        "the batch extra); its captures that are local files are listed, and its rows link to them",
    )
    s.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="S",
        help=f"close a connection that sends nothing for S seconds (default {DEFAULT_IDLE_TIMEOUT:g})",
    )
    s.add_argument(
        "--max-concurrent-uploads",
        type=int,
        default=DEFAULT_UPLOAD_SLOTS,
        metavar="N",
        help=f"uploads received at the same time; more get 503 (default {DEFAULT_UPLOAD_SLOTS})",
    )
    s.add_argument(
        "--allow-live",
        action="store_true",
        help="add the Live page: capture on an interface from the browser (needs the capture privilege)",
    )
    return s


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_url(host: str, port: int) -> str:
    shown = host if host not in ("0.0.0.0", "::") else "127.0.0.1"
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _add_dataset_captures(args: argparse.Namespace, dataset: str) -> int | None:
    """`--dataset`: its local captures join the list (its rows link to them); an exit code if it
    cannot be read or the batch extra is missing."""
    from analyzer.cli.batch import need_batch_extra

    if need_batch_extra("serve --dataset"):
        return EXIT_CAPTURE
    from analyzer.batch.query import QueryError
    from webui.dataset import dataset_captures

    try:
        args.captures = [*args.captures, *dataset_captures(dataset)]
    except QueryError as exc:
        print(f"socketscope: serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return None


def _prepare(args: argparse.Namespace) -> int | None:
    """An exit code if --upload-dir cannot be used or --dataset cannot be read; the dataset's
    local captures join the list."""
    from analyzer.cli.common import output_problem

    problem = args.upload_dir and output_problem(args.upload_dir, directory=True)
    if problem:
        print(f"socketscope: --upload-dir: {problem}", file=sys.stderr)
        return EXIT_USAGE
    dataset = getattr(args, "dataset", None)
    return _add_dataset_captures(args, dataset) if dataset is not None else None


def run_serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from webui import create_app
    from webui.hosts import allowed_hosts_for

    missing = [c for c in args.captures if not os.path.isfile(c)]
    if missing:
        print(f"socketscope: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.port < 65536:
        print("socketscope: --port must be 0-65535", file=sys.stderr)
        return EXIT_USAGE
    failed = _prepare(args)
    if failed is not None:
        return failed
    try:
        keylog = load_keylogs(list(getattr(args, "keylog", None) or []))
    except OutputError as exc:
        print(f"socketscope: {exc}", file=sys.stderr)
        return EXIT_USAGE
    idle = float(getattr(args, "idle_timeout", DEFAULT_IDLE_TIMEOUT))
    uploads = int(getattr(args, "max_concurrent_uploads", DEFAULT_UPLOAD_SLOTS))
    if idle <= 0 or uploads <= 0:
        print("socketscope: --idle-timeout and --max-concurrent-uploads must be positive", file=sys.stderr)
        return EXIT_USAGE
    # DNS rebinding: only these names are answered, whatever the address bound (webui/hosts.py)
    allowed = allowed_hosts_for(args.host, getattr(args, "allowed_host", None) or [])
    if not is_loopback(args.host):
        print(
            f"socketscope: warning: serving on {args.host}: anyone who can reach it can read the captures. "
            f"It answers to the host names {', '.join(allowed)} only (--allowed-host adds one), "
            "and refuses uploads and other changes sent from another site's page (Origin check).",
            file=sys.stderr,
        )
    try:
        app = create_app(
            captures=args.captures,
            folders=args.captures_dir,
            upload_dir=args.upload_dir,
            config={
                "MAX_CONTENT_LENGTH": max(1, args.max_upload_mb) << 20,
                "ALLOWED_HOSTS": allowed,
                "UPLOAD_SLOTS": uploads,
                "ALLOW_LIVE": bool(getattr(args, "allow_live", False)),
                "INFLATE_BUDGET_MB": getattr(args, "inflate_budget_mb", None),
                "DATASET": getattr(args, "dataset", None),
                "KEYLOG": keylog,
            },
        )
    except OSError as exc:  # the upload folder cannot be made
        print(
            f"socketscope: cannot use {exc.filename or args.upload_dir} for uploads: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        server = make_server(args.host, args.port, app, threaded=True, request_handler=_handler(idle))
    except (OSError, socket.gaierror) as exc:
        print(f"socketscope: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"socketscope: serving on {serve_url(args.host, server.server_port)}  (Ctrl-C stops)", flush=True)
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop as Ctrl-C does: a live capture is kept
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
        from webui.live import shutdown

        shutdown(app)  # a live capture ends with the server (its file is kept)
    return EXIT_OK


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _handler(idle: float) -> Any:
    """werkzeug's request handler, whose connections time out after `idle` silent seconds (a
    slow or stalled client no longer keeps a server thread forever)."""
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        timeout = idle

        def log_error(self, format: str, *args: Any) -> None:
            if not format.startswith("Request timed out"):  # an idle connection closed: not an error
                super().log_error(format, *args)

    return Handler
