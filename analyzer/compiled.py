"""Which build runs: the hot modules compiled with mypyc from this same source, or pure Python.

setup.py compiles the modules of COMPILED when the machine has a C compiler (one source: the .py
files stay the reference, and the only implementation). At import, `select_build()` (called by
analyzer/__init__.py) loads the pure modules instead when SOCKETSCOPE_PURE is set (CI runs the
golden outputs that way) or when, in a source checkout, a module's .py is newer than its compiled
file (edited since the last build: the edit runs, and one warning line says so).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED", "PURE_ENV", "build_name", "select_build"]

PURE_ENV = "SOCKETSCOPE_PURE"

# the road every packet takes, measured hot (docs/benchmarks.md); each must compile with mypyc
COMPILED = (
    "analyzer.capture.pcapfile",
    "analyzer.decode.packet",
    "analyzer.tcp.offsets",
    "analyzer.tcp.reassembly",
    "analyzer.tcp.tracker",
    "analyzer.pipeline.fastloop",
    "analyzer.pipeline.connection",
    "analyzer.protocols.ws_decoder",
    "analyzer.protocols.ws_resync",
    "analyzer.protocols.ws_frame",
    "analyzer.protocols.ws_message",
    "analyzer.protocols.http1",
    "analyzer.protocols.http1_body",
    "analyzer.protocols.http1_chunked",
    "analyzer.protocols.http1_events",
    "analyzer.protocols.http1_reader",
    "analyzer.protocols.http1_side",
    "analyzer.protocols.http1_state",
    "analyzer.protocols.engineio",
    "analyzer.protocols.engineio_polling",
    "analyzer.protocols.socketio",
    "analyzer.protocols.json_bounded",
    "analyzer.session.builder",
    "analyzer.session.sio",
    "analyzer.session.payloads",
    "analyzer.session.spill",
    "analyzer.model.session_json",
    "analyzer.model.websocket",
    "analyzer.model.records",
    "analyzer.model.jsontext",
    "analyzer.model.values",
    "analyzer.model.spill",
    "analyzer.export.jsonstream",
    "analyzer.export.csv_stream",
    "analyzer.export.csvout",  # a CSV cell per value of every row (exports, docs/benchmarks.md #19 step 3)
    "analyzer.export.jsonl",
    "analyzer.export.jsonl_stream",
)
_COMPILED = frozenset(COMPILED)
_PACKAGE = Path(__file__).resolve().parent


class _SourceOnly(importlib.abc.MetaPathFinder):
    """Finds the modules of COMPILED as their .py files, never as extension modules."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _COMPILED or not path:
            return None
        loaders = [(importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)]
        for entry in path:
            spec = importlib.machinery.FileFinder(entry, *loaders).find_spec(fullname, target)
            if spec is not None:
                return spec
        return None


def _compiled_file(module: str) -> Path | None:
    base = _PACKAGE.parent.joinpath(*module.split("."))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = base.with_name(base.name + suffix)
        if candidate.exists():
            return candidate
    return None


def _stale() -> str | None:
    """In a source checkout (pyproject.toml beside the package): a module edited after its build."""
    if not (_PACKAGE.parent / "pyproject.toml").exists():
        return None
    for module in COMPILED:
        built = _compiled_file(module)
        source = _PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")
        if built is not None and source.exists() and source.stat().st_mtime > built.stat().st_mtime:
            return module
    return None


def select_build() -> None:
    """Load the pure modules when asked (SOCKETSCOPE_PURE) or when a compiled one is stale."""
    if any(isinstance(f, _SourceOnly) for f in sys.meta_path):
        return
    stale = None if os.environ.get(PURE_ENV) else _stale()
    if stale is not None:
        print(
            f"socketscope: {stale} changed since it was compiled: running pure Python "
            "(rebuild with `python3 -m pip install -e .`)",
            file=sys.stderr,
        )
    if os.environ.get(PURE_ENV) or stale is not None:
        sys.meta_path.insert(0, _SourceOnly())
    else:
        _find_native_library()


def _find_native_library() -> None:
    """A build in place (`setup.py build_ext --inplace`, CI) leaves mypyc's shared library beside
    the package, not inside it: the editable install maps only the packages, so a process started
    elsewhere could not import it. Put that folder on the path (last) when the library is there."""
    root = Path(__file__).resolve().parents[1]
    on_path = {os.path.abspath(p or os.curdir) for p in sys.path}
    if str(root) not in on_path and any(root.glob("*__mypyc.*")):
        sys.path.append(str(root))


def build_name() -> str:
    """What `socketscope --version` says: "compiled (mypyc)" or "pure Python"."""
    spec = importlib.util.find_spec(COMPILED[0])
    origin = spec.origin if spec is not None else None
    compiled = origin is not None and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return "compiled (mypyc)" if compiled else "pure Python"
