"""What the subcommands share: the `--decode-as` syntax, output paths, `--quiet` and the progress bar.

Bad input gets one sentence on stderr and an exit code (README, "Using it"), never a traceback:
`--decode-as` is parsed by argparse (`parse_decode_as`, exit 2 with the usage line), output paths
are checked or opened before the capture is read (`open_output`, `output_problem`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer.protocols.tls.keylog import KeyLog

__all__ = [
    "DECODE_AS_PROTOCOLS",
    "ENGINES",
    "EXIT_CAPTURE",
    "EXIT_CODES",
    "EXIT_DAMAGED",
    "EXIT_DIFFERENCES",
    "EXIT_NOT_CAPTURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "OutputError",
    "Progress",
    "add_decode_as_option",
    "add_engine_option",
    "add_frame_records_option",
    "add_inflate_budget_option",
    "add_jobs_option",
    "add_keylog_option",
    "add_quiet_option",
    "frame_records",
    "inflate_budget_bytes",
    "jobs_for",
    "jobs_progress",
    "load_keylogs",
    "merged_keylog_file",
    "open_output",
    "output_problem",
    "parse_decode_as",
    "progress_bar",
    "read_keylog",
    "same_file",
    "wrap",
]

DECODE_AS_PROTOCOLS = ("websocket", "http")
ENGINES = ("builtin", "tshark")  # packet sources: socketscope's reader / tcpdump, or pyshark

# exit codes of every subcommand (README "Using it")
EXIT_OK, EXIT_DIFFERENCES, EXIT_USAGE, EXIT_NOT_CAPTURE, EXIT_DAMAGED, EXIT_CAPTURE = 0, 1, 2, 3, 4, 5

# the epilog of `analyze` (the other subcommands say which of these they use)
EXIT_CODES = """\
exit codes:
  0  success
  2  usage error (bad option or value, output not writable); argparse errors show the usage line
  3  the file is not a readable capture (one-line message)
  4  the capture is damaged (truncated or corrupt): everything up to the damage is
     analyzed and written, and the damage is reported on stderr and as an anomaly
  1  a worker process of --jobs failed (one line on stderr: what a crash of one process gives)"""


def wrap(text: str) -> str:
    """A --help description filled to 79 columns (RawDescriptionHelpFormatter keeps it as is, and the
    epilog's lines as written)."""
    return textwrap.fill(text, 79)


def parse_decode_as(value: str) -> tuple[int, str]:
    """`PORT=websocket` or `PORT=http` (PORT 1-65535): the argparse `type` of every `--decode-as`."""
    port, sep, proto = value.partition("=")
    if sep and port.isascii() and port.isdigit() and 0 < int(port) < 65536 and proto in DECODE_AS_PROTOCOLS:
        return int(port), proto
    raise argparse.ArgumentTypeError(f"{value!r} is not PORT=websocket or PORT=http (PORT 1-65535)")


def add_decode_as_option(p: argparse.ArgumentParser, extra: str = "") -> None:
    """`--decode-as PORT=websocket|PORT=http`, repeatable; `args.decode_as` is a list of (port, proto)."""
    p.add_argument(
        "--decode-as",
        action="append",
        type=parse_decode_as,
        default=[],
        metavar="PORT=PROTO",
        help="decode TCP PORT as WebSocket without a handshake (PORT=websocket) or as HTTP (PORT=http), "
        f"like tshark -d; repeatable{extra}",
    )


MAX_KEYLOG_BYTES = 64 << 20  # of one --keylog file


def add_keylog_option(p: argparse.ArgumentParser) -> None:
    """`--keylog FILE`, repeatable; `args.keylog` is a list of paths (see `load_keylogs`)."""
    p.add_argument(
        "--keylog",
        action="append",
        default=[],
        metavar="FILE",
        help="TLS key log in the NSS format (SSLKEYLOGFILE of Chrome and Firefox, node --tls-keylog, "
        "Python's SSLContext.keylog_filename) to decrypt wss:// and https://; repeatable. Keys in a "
        "pcapng's Decryption Secrets Blocks are used without it. Secrets are never printed",
    )


def read_keylog(path: str) -> bytes:
    """One --keylog file's bytes; OutputError, a sentence naming the file and never its content,
    if it cannot be read or is larger than MAX_KEYLOG_BYTES."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEYLOG_BYTES + 1)
    except OSError as exc:
        raise OutputError(f"cannot read the key log {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEYLOG_BYTES:
        raise OutputError(f"the key log {path} is larger than {MAX_KEYLOG_BYTES >> 20} MiB")
    return data


def load_keylogs(paths: list[str]) -> KeyLog | None:
    """The secrets of every --keylog file (None without any); OutputError, a sentence naming the
    file and never its content, if one cannot be read. Bad lines are kept for tls.keylog-bad-line."""
    if not paths:
        return None
    from analyzer.protocols.tls.keylog import KeyLog

    keys = KeyLog()
    for path in paths:
        keys.add_text(read_keylog(path), path)
    return keys


@contextlib.contextmanager
def merged_keylog_file(paths: list[str]) -> Iterator[str | None]:
    """One key log file for a tool that reads one (tshark's `-o tls.keylog_file:`): the file itself
    when there is one, else the files joined in a temporary file only this user can read (0600),
    deleted when the block ends. None without any --keylog. OutputError if one cannot be read."""
    if not paths:
        yield None
        return
    if len(paths) == 1:
        yield paths[0]
        return
    import tempfile

    fd, name = tempfile.mkstemp(prefix="socketscope-keys-", suffix=".log")  # mode 0600 (mkstemp)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            for path in paths:
                out.write(read_keylog(path))
                out.write(b"\n")
        yield name
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _whole_number(value: str, unit: str = "") -> int:
    if value.isascii() and value.isdigit() and int(value) < 1 << 40:
        return int(value)
    raise argparse.ArgumentTypeError(f"{value!r} is not a whole number{unit} (0 or more)")


def _mebibytes(value: str) -> int:
    return _whole_number(value, " of MiB")


def add_inflate_budget_option(p: argparse.ArgumentParser) -> None:
    """`--inflate-budget-mb N` (docs/bounds.md); `args.inflate_budget_mb` is None when not given."""
    p.add_argument(
        "--inflate-budget-mb",
        type=_mebibytes,
        metavar="N",
        help="inflated bytes kept from compressed WebSocket messages and gzip/deflate HTTP bodies: N MiB "
        "per capture and N/16 per connection (default 256: 16 MiB), each plus 32 bytes per compressed "
        "byte; past it the payloads are dropped, lengths kept (docs/bounds.md)",
    )


def _count(value: str) -> int:
    return _whole_number(value)


def add_frame_records_option(p: argparse.ArgumentParser) -> None:
    """`--max-frame-records N` (docs/bounds.md); `args.max_frame_records` is None when not given."""
    p.add_argument(
        "--max-frame-records",
        type=_count,
        metavar="N",
        help="WebSocket frame records listed: N per connection and 10 x N per capture (default 100000);"
        " past it frames are still decoded, counted and assembled into messages, not listed"
        " (ws.frame-records-capped; docs/bounds.md)",
    )


def frame_records(args: argparse.Namespace) -> int:
    """Options.max_frame_records from `--max-frame-records` (its default when not given)."""
    from analyzer.pipeline.frame_cap import MAX_FRAME_RECORDS

    n = getattr(args, "max_frame_records", None)
    return MAX_FRAME_RECORDS if n is None else int(n)


def inflate_budget_bytes(args: argparse.Namespace) -> int:
    """Options.inflate_budget_bytes from `--inflate-budget-mb` (its default when not given)."""
    from analyzer.protocols.deflate import INFLATE_CAPTURE_BUDGET

    mb = getattr(args, "inflate_budget_mb", None)
    return INFLATE_CAPTURE_BUDGET if mb is None else int(mb) << 20


def add_quiet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        "--no-progress",
        dest="quiet",
        action="store_true",
        help="no progress bar and no informational lines on stderr (errors and warnings are still "
        "printed); --no-progress is its old name",
    )


# ---------------------------------------------------------------------------------------------------------
# output paths


class OutputError(Exception):
    """An output that cannot be written: one sentence (without the "socketscope: CMD: " prefix)."""


def same_file(output: str, capture: str) -> bool:
    if output == "-":
        return False
    try:
        return os.path.samefile(output, capture)
    except OSError:
        return os.path.abspath(output) == os.path.abspath(capture)


def _cannot(path: str, code: int) -> str:
    return f"cannot write {path}: {os.strerror(code)}"


def output_problem(path: str, capture: str | None = None, directory: bool = False) -> str | None:
    """Why `path` cannot be written (a file, or with `directory` a folder made if missing), or None.
    For outputs written at the end of a run: checked before the capture is read, nothing is created."""
    if path == "-":
        return None
    if capture is not None and same_file(path, capture):
        return f"the output {path} is the capture itself: it would be overwritten"
    if directory:
        if os.path.exists(path) and not os.path.isdir(path):
            return _cannot(path, errno.ENOTDIR)
        return None
    if os.path.isdir(path):
        return _cannot(path, errno.EISDIR)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        return _cannot(path, errno.ENOENT if not os.path.exists(parent) else errno.ENOTDIR)
    target = path if os.path.exists(path) else parent
    if not os.access(target, os.W_OK):
        return _cannot(path, errno.EACCES)
    return None


def open_output(path: str, capture: str, **kw: Any) -> IO[str]:
    """Open a text output for writing (before the capture is read); OutputError if it cannot be."""
    if same_file(path, capture):
        raise OutputError(f"the output {path} is the capture itself: it would be overwritten")
    try:
        fh: IO[str] = open(path, "w", **kw)  # noqa: SIM115 - the caller closes it
        return fh
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------------------
# progress on a terminal


class Progress:
    """A one-line progress bar on a terminal: packets read, bytes read of the file's size, percentage.
    Called with the packet count (every 16384 packets, analyzer/fastpath.py)."""

    def __init__(self, reader: Any, stream: IO[str]) -> None:
        self._reader = reader
        self._stream = stream
        try:
            self._total = os.path.getsize(reader.path)
        except (OSError, TypeError, ValueError):
            self._total = 0
        self.packets = 0

    def __call__(self, packets: int) -> None:
        self.packets = packets
        offset = getattr(self._reader, "offset", None)
        done = offset() if callable(offset) else -1
        mb = self._total / 1e6
        if self._total and done >= 0:
            done = min(done, self._total)
            pct = 100 * done // self._total
            text = f"{packets:,} packets, {done / 1e6:,.1f} of {mb:,.1f} MB read ({pct}%)"
        else:  # a reader whose file position is unknown (the tshark engine)
            text = f"{packets:,} packets read of a {mb:,.1f} MB file"
        self._show(text)

    def status(self, text: str) -> None:
        """Replace the bar with a short status (e.g. what runs after the capture is read)."""
        self._show(text)

    def _show(self, text: str) -> None:
        self._stream.write("\r" + text + "\033[K")
        self._stream.flush()

    def clear(self) -> None:
        self._stream.write("\r\033[K")
        self._stream.flush()


@contextlib.contextmanager
def progress_bar(reader: Any, quiet: bool) -> Iterator[Progress | None]:
    """A Progress on stderr when it is a terminal and not `quiet` (else None); erased at the end."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    bar = Progress(reader, sys.stderr)
    bar(0)
    try:
        yield bar
    finally:
        with contextlib.suppress(OSError, ValueError):
            bar.clear()


def _jobs(value: str) -> int:
    if value.isascii() and value.isdigit() and int(value) <= 1024:
        return int(value)
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (0 to 1024)")


def add_jobs_option(p: argparse.ArgumentParser) -> None:
    """`--jobs N` (analyzer/pipeline/shards.py); `args.jobs` is None when not given."""
    p.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help="read the capture with N processes, its connections shared out by Engine.IO session "
        "(or by client address), the output byte for byte that of one process (default and 0: one "
        "per core this process may use; 1: one process). A capture under 8 MB, a file that is not a "
        "regular file (a pipe, /dev/stdin) and --engine tshark are read by one process, and so is a "
        "capture whose shares together pass a capture-wide bound (docs/bounds.md) or meet one "
        "session in two shares: it is read again by one process. Each process still reads every "
        "packet (docs/benchmarks.md, issue #19)",
    )


def jobs_for(args: argparse.Namespace, path: str) -> int:
    """The processes `--jobs` gives this capture: 1 where sharing out is not done (see its help)."""
    from analyzer.pipeline.shards import SMALL_CAPTURE_BYTES, default_jobs

    n = getattr(args, "jobs", None)
    n = default_jobs() if n is None else int(n) or default_jobs()
    if n < 2 or getattr(args, "engine", "builtin") != "builtin":
        return 1
    try:
        st = os.stat(path)
    except OSError:
        return 1
    import stat

    return n if stat.S_ISREG(st.st_mode) and st.st_size >= SMALL_CAPTURE_BYTES else 1


def jobs_progress(bar: Progress | None, jobs: int) -> Callable[[int], None] | None:
    """What the processes of --jobs report on the progress bar: the packets this process's share
    has read, then -1 while it waits for the other processes."""
    if bar is None:
        return None

    def told(packets: int) -> None:
        if packets < 0:
            bar.status(f"waiting for the other {jobs - 1} processes")
        else:
            bar.status(f"{packets:,} packets read ({jobs} processes)")

    return told


def add_engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="builtin",
        help="packet source: builtin (socketscope's reader / tcpdump) or tshark (pyshark: tshark, dumpcap)",
    )
