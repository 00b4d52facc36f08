"""Smoke run of the web UI benchmark (benchmarks/ui.py): a child process per capture opens it in
the app and requests every view. No timing assertions: every view answers 200 and the
figures are there."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.scripts import run_script
from tests.conftest import CAPTURES


def test_ui_benchmark_runs_every_view(tmp_path: Path) -> None:
    [result], stdout = run_script("ui.py", CAPTURES / "sio-python-polling-upgrade.pcap", tmp_path)
    assert result["state"] == "done" and result["rows"] > 50
    assert result["peak_rss_mb"] >= result["rss_after_analysis_mb"] > 0
    assert len(result["views"]) == 20
    assert all(v["status"] == 200 and v["bytes"] > 0 for v in result["views"]), result["views"]
    assert "peak RSS" in stdout
