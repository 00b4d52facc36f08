"""Smoke run of benchmarks/commands.py: every command on a small bundled capture, in its own
process, with a peak RSS and a table (no timing assertions)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.scripts import run_script
from tests.conftest import CAPTURES


def test_every_command_runs_and_is_measured(tmp_path: Path) -> None:
    results, stdout = run_script("commands.py", CAPTURES / "sio-python-polling-upgrade.pcap", tmp_path)
    assert len(results) == 7 and all(r["exit"] == 0 and r["peak_rss_mb"] > 10 for r in results)
    assert "| `export har` |" in stdout
