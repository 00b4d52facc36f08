"""Without the batch extra, `batch`, `query` and `serve --dataset` say in one line how to install it,
and nothing of the batch extra is imported by the other commands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.golden.outputs import ROOT

# a Python in which dask, distributed, pyarrow and duckdb cannot be found
BLOCK = """
import sys
for name in ("dask", "distributed", "pyarrow", "duckdb"):
    sys.modules[name] = None  # import raises ImportError, find_spec finds nothing
from analyzer.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", "captures", "--out", "/nonexistent/ds"],
        ["query", "/nonexistent/ds", "SELECT 1"],
        ["serve", "--dataset", "/nonexistent/ds", "--port", "0"],
    ],
    ids=["batch", "query", "serve"],
)
def test_missing_extra_is_one_line(argv: list[str]) -> None:
    p = subprocess.run(
        [sys.executable, "-c", BLOCK, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 5
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'socketscope[batch]'" in lines[0], p.stderr


def test_analyze_does_not_load_the_extra() -> None:
    code = (
        "import sys\nfrom analyzer.cli import main\nmain(['analyze', 'captures/ws-node-ws.pcapng', '-q'])\n"
        "print(sorted(m for m in ('dask', 'distributed', 'pyarrow', 'duckdb') if m in sys.modules))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert p.stdout.strip().splitlines()[-1] == "[]"
