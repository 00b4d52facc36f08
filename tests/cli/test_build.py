"""Which build runs (analyzer/compiled.py): `--version` names it, SOCKETSCOPE_PURE forces the
pure modules, and every module listed as compiled exists as a .py file (one source)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from analyzer.compiled import COMPILED, PURE_ENV

ROOT = Path(__file__).resolve().parents[2]

_WHERE = "import analyzer.compiled as c, importlib; print(importlib.import_module(c.COMPILED[3]).__file__)"


def _python(code: list[str], pure: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != PURE_ENV}
    if pure:
        env[PURE_ENV] = "1"
    out = subprocess.run(
        [sys.executable, *code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def test_every_compiled_module_is_a_python_source() -> None:
    for module in COMPILED:
        assert ROOT.joinpath(*module.split(".")).with_suffix(".py").is_file(), module


def test_pure_env_loads_the_py_files_and_version_says_so() -> None:
    assert _python(["-c", _WHERE], pure=True).endswith(".py")
    assert _python(["-m", "analyzer.cli", "--version"], pure=True).endswith(", pure Python")


def test_version_names_the_build_that_runs() -> None:
    where = _python(["-c", _WHERE], pure=False)
    version = _python(["-m", "analyzer.cli", "--version"], pure=False)
    expected = "pure Python" if where.endswith(".py") else "compiled (mypyc)"
    assert version.endswith(", " + expected)
