"""What `socketscope batch` reads: files, directories (recursed), globs and fsspec URLs, plain or
compressed (.gz, .zst), each made a local file a CaptureReader can open.

A compressed or remote capture is copied, decompressed, to a temporary file that may grow to
`MAX_MATERIALIZED` bytes at most (past it the capture is an error, not a full disk).
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

__all__ = [
    "CAPTURE_SUFFIXES",
    "MAX_MATERIALIZED",
    "InputError",
    "Source",
    "content_hash",
    "expand_inputs",
    "is_url",
    "local_copy",
]

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
COMPRESSED_SUFFIXES = (".gz", ".zst")
MAX_MATERIALIZED = 64 << 30  # bytes of one decompressed or downloaded capture
_CHUNK = 1 << 20


class InputError(Exception):
    """An input that names nothing readable: one sentence."""


@dataclass(frozen=True, slots=True)
class Source:
    """One capture to analyze: where it is (a local path or a URL), its size, and its content hash
    once known (`expand_inputs` does not read the captures: the engine hashes those the dataset
    already holds at the same size, and a task hashes the capture it analyzes)."""

    location: str
    size: int
    sha256: str | None = None


def is_url(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isascii() and scheme.replace("+", "").isalnum() and scheme != "file"


def looks_like_capture(name: str) -> bool:
    base = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base.endswith(CAPTURE_SUFFIXES)


def _open_any(location: str) -> IO[bytes]:
    if is_url(location):
        try:
            import fsspec
        except ImportError:
            raise InputError(f"{location}: reading URLs needs fsspec (pip install fsspec)") from None
        try:
            fh: IO[bytes] = fsspec.open(location, "rb").open()
        except (OSError, ValueError, ImportError) as exc:
            raise InputError(f"{location}: {exc}") from None
        return fh
    return open(location, "rb")


def content_hash(location: str) -> tuple[int, str]:
    """Size and SHA-256 of the bytes at `location` (compressed if it is). OSError, InputError."""
    h = hashlib.sha256()
    size = 0
    with _open_any(location) as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _source(location: str) -> Source:
    """The capture at `location` with its size, read from the file system without reading the
    capture (hashed here only when its file system cannot say its size); OSError, InputError."""
    if not is_url(location):
        with open(location, "rb") as fh:  # readable, as a task will need it
            return Source(location, os.fstat(fh.fileno()).st_size)
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(location)
        size = fs.size(path)
    except (ValueError, ImportError) as exc:
        raise InputError(f"{location}: {exc}") from None
    if size is None:  # say, an HTTP server that gives no length
        return Source(location, *content_hash(location))
    return Source(location, int(size))


def _url_matches(pattern: str) -> list[str]:
    import fsspec

    fs, _, paths = fsspec.get_fs_token_paths(pattern)
    out = []
    for p in paths:
        if fs.isdir(p):
            out += [f for f in fs.find(p) if looks_like_capture(f)]
        else:
            out.append(p)
    return [str(fs.unstrip_protocol(p)) for p in sorted(out)]


def expand_inputs(inputs: list[str]) -> tuple[list[Source], list[str]]:
    """The captures the inputs name, each once, in a stable order, with their sizes (not their
    hashes: nothing is read yet); and one sentence per input or file that could not be used (a
    missing path, an unreadable file). A directory gives the files whose names end in .pcap,
    .pcapng or .cap (optionally .gz or .zst), recursively; a file named directly is taken
    whatever its name (it is judged when it is read)."""
    found: dict[str, None] = {}
    problems: list[str] = []
    for item in inputs:
        if is_url(item):
            try:
                found.update(dict.fromkeys(_url_matches(item)))
            except ImportError:
                problems.append(f"{item}: reading URLs needs fsspec (pip install fsspec)")
            except (OSError, ValueError) as exc:
                problems.append(f"{item}: {exc}")
            continue
        if os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                for name in sorted(files):
                    if looks_like_capture(name):
                        found[os.path.abspath(os.path.join(root, name))] = None
            continue
        if os.path.exists(item):
            found[os.path.abspath(item)] = None
            continue
        matches = sorted(glob.glob(item, recursive=True)) if glob.has_magic(item) else []
        files = [m for m in matches if os.path.isfile(m)]
        if not files:
            problems.append(f"{item}: no such file, directory or matching capture")
        found.update(dict.fromkeys(os.path.abspath(m) for m in files))
    sources = []
    for location in found:
        try:
            sources.append(_source(location))
        except (OSError, InputError) as exc:
            problems.append(f"{location}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    return sources, problems


def _decompressor(location: str, fh: IO[bytes]) -> Any:
    low = location.lower()
    if low.endswith(".gz"):
        return gzip.GzipFile(fileobj=fh)
    if low.endswith(".zst"):
        try:
            import zstandard
        except ImportError:
            raise InputError(f"{location}: .zst captures need zstandard (pip install zstandard)") from None
        return zstandard.ZstdDecompressor().stream_reader(fh)
    return fh


@contextlib.contextmanager
def local_copy(location: str, workdir: str | None = None) -> Iterator[str]:
    """A local path holding the capture: the file itself when it is a plain local file, else a
    temporary copy (downloaded, decompressed) of at most MAX_MATERIALIZED bytes, removed at the end.
    InputError when it cannot be made."""
    compressed = location.lower().endswith(COMPRESSED_SUFFIXES)
    if not is_url(location) and not compressed:
        yield location
        return
    fd, tmp = tempfile.mkstemp(prefix="socketscope-capture-", dir=workdir)
    try:
        with os.fdopen(fd, "wb") as out, _open_any(location) as raw:
            src = _decompressor(location, raw)
            total = 0
            try:
                while chunk := src.read(_CHUNK):
                    total += len(chunk)
                    if total > MAX_MATERIALIZED:
                        raise InputError(
                            f"{location}: more than {MAX_MATERIALIZED >> 30} GiB once decompressed"
                        )
                    out.write(chunk)
            except (OSError, EOFError) as exc:
                if total == 0:
                    raise InputError(f"{location}: cannot decompress: {exc}") from None
                # a damaged compressed stream: what came out is analyzed (the capture is cut there)
            finally:
                if src is not raw:
                    src.close()
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
