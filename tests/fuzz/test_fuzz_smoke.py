"""A short, fixed-seed run of the pipeline fuzzer (tests/fuzz/harness.py): every mutated input
goes through `analyze --format json` (schema-checked), the in-memory model, the text summary
and, for some, every exporter, without an exception or a broken contract."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CAPTURES
from tests.fuzz.harness import fuzz


def test_fuzz_smoke(tmp_path: Path) -> None:
    seeds = [CAPTURES / "sio-python-polling-upgrade.pcap", CAPTURES / "sio-python-websocket-only.pcap"]
    # bounded by the number of inputs, not by time; the per-input limit only catches a hang
    stats = fuzz(
        1e9, seed=20240601, seed_files=seeds, out_dir=tmp_path, max_execs=30, exporters_every=6, timeout=120.0
    )
    assert stats.execs == 30
    assert stats.findings == {}, f"inputs and tracebacks in {tmp_path} (scripts/fuzz.py --replay DIR)"
