"""`socketscope serve [CAPTURE ...]`: the web UI (Flask), on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from typing import Any

from analyzer.cli_common import wrap

__all__ = ["add_serve_parser", "is_loopback", "run_serve", "serve_url"]

EXIT_OK, EXIT_USAGE = 0, 2
EPILOG = """\
examples:
  socketscope serve                        # the captures of ./captures/, and uploads
  socketscope serve capture.pcap other.pcapng --port 8080
  socketscope serve --allow-live           # adds the Live page (needs the capture privilege)

It prints its URL and serves until Ctrl-C; loopback only unless --host says otherwise.

exit codes:
  0  stopped with Ctrl-C
  2  usage error (a CAPTURE that does not exist, a bad --port or --upload-dir, the address
     cannot be listened on)"""


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


def run_serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from webui import LOOPBACK_HOSTS, create_app

    missing = [c for c in args.captures if not os.path.isfile(c)]
    if missing:
        print(f"socketscope: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.port < 65536:
        print("socketscope: --port must be 0-65535", file=sys.stderr)
        return EXIT_USAGE
    from analyzer.cli_common import output_problem

    problem = args.upload_dir and output_problem(args.upload_dir, directory=True)
    if problem:
        print(f"socketscope: --upload-dir: {problem}", file=sys.stderr)
        return EXIT_USAGE
    trusted: list[str] | None = list(LOOPBACK_HOSTS)
    if not is_loopback(args.host):
        print(
            f"socketscope: warning: serving on {args.host}: anyone who can reach it can read the captures",
            file=sys.stderr,
        )
        trusted = None  # any Host header: the user chose to expose it
    try:
        app = create_app(
            captures=args.captures,
            folders=args.captures_dir,
            upload_dir=args.upload_dir,
            config={
                "MAX_CONTENT_LENGTH": max(1, args.max_upload_mb) << 20,
                "TRUSTED_HOSTS": trusted,
                "ALLOW_LIVE": bool(getattr(args, "allow_live", False)),
            },
        )
    except OSError as exc:  # the upload folder cannot be made
        print(
            f"socketscope: cannot use {exc.filename or args.upload_dir} for uploads: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except (OSError, socket.gaierror) as exc:
        print(f"socketscope: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"socketscope: serving on {serve_url(args.host, server.server_port)}  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        from webui.live import shutdown

        shutdown(app)  # a live capture ends with the server (its file is kept)
    return EXIT_OK
