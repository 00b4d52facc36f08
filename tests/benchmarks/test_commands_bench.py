"""Smoke run of benchmarks/commands.py: every command on a small bundled capture, in its own
process, with a peak RSS and a table (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import CAPTURES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "commands.py"


def test_every_command_runs_and_is_measured(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    cap = CAPTURES / "sio-python-polling-upgrade.pcap"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(cap), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert len(results) == 7 and all(r["exit"] == 0 and r["peak_rss_mb"] > 10 for r in results)
    assert "| `export har` |" in proc.stdout
