"""A real `socketscope serve` in a subprocess, for the tests that need one listening."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def served(*argv: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Iterator[str]:
    """`socketscope serve --port 0 ARGV` (in `cwd`) until the block ends; yields its URL.
    The server is stopped by its PID, killed if it does not stop within 10 s."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "serve", "--port", "0", *argv],
        cwd=cwd,
        env=env or dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and "serving on" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "serving on http://" in line, line + (proc.stderr.read() if proc.stderr else "")
        yield line.split("serving on ")[1].split()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
