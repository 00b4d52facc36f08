"""Smoke run of the web UI benchmark (benchmarks/ui.py): a child process per capture opens it in
the app and requests every view. No timing assertions: every view answers 200 and the
figures are there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import CAPTURES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ui.py"


def test_ui_benchmark_runs_every_view(tmp_path: Path) -> None:
    out = tmp_path / "ui.json"
    cap = CAPTURES / "sio-python-polling-upgrade.pcap"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(cap), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [result] = json.loads(out.read_text(encoding="utf-8"))
    assert result["state"] == "done" and result["rows"] > 50
    assert result["peak_rss_mb"] >= result["rss_after_analysis_mb"] > 0
    assert len(result["views"]) == 20
    assert all(v["status"] == 200 and v["bytes"] > 0 for v in result["views"]), result["views"]
    assert "peak RSS" in proc.stdout
