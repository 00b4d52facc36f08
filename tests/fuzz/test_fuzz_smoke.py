"""A short, fixed-seed run of the pipeline fuzzer (tests/fuzz/harness.py): every mutated input
goes through `analyze --format json` (schema-checked), the in-memory model, the text summary
and, for some, every exporter, without an exception or a broken contract; and each generator of
inputs that hit a bound (issue #16) once."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import CAPTURES
from tests.fuzz.harness import (
    GENERATORS,
    SCHEMA_SAMPLE,
    Checker,
    fuzz,
    load_seed,
    run_one,
    sampled,
    to_bytes,
)


def test_fuzz_smoke(tmp_path: Path) -> None:
    seeds = [CAPTURES / "sio-python-polling-upgrade.pcap", CAPTURES / "sio-python-websocket-only.pcap"]
    # bounded by the number of inputs, not by time; the per-input limit only catches a hang
    stats = fuzz(
        1e9, seed=20240601, seed_files=seeds, out_dir=tmp_path, max_execs=30, exporters_every=6, timeout=120.0
    )
    assert stats.execs == 30
    assert stats.findings == {}, f"inputs and tracebacks in {tmp_path} (scripts/fuzz.py --replay DIR)"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("placeholders", "sio.placeholder-repeated"),
        ("inflate", "ws.inflate-budget-exceeded"),
        ("flood", "tcp.table-full"),
        ("giant", None),
        ("ws-frames", None),
        ("tunnel", None),
        ("resync", "ws.deflate-assumed"),
    ],
)
def test_each_generator_hits_its_bound(name: str, code: str | None, tmp_path: Path) -> None:
    """The generated inputs (docs/bounds.md) run clean, the document within its size bound."""
    seeds = [
        load_seed(CAPTURES / "sio-python-polling-upgrade.pcap"),
        load_seed(CAPTURES / "sio-python-websocket-only.pcap"),
    ]
    cap, bounds = GENERATORS[name](random.Random(1), seeds)
    checker = Checker(tmp_path)
    exc, _ = run_one(checker, to_bytes(cap), [], True, 120.0, bounds)
    assert exc is None, repr(exc)
    assert bounds.check_output and (code is None or code in checker.features), sorted(checker.features)


def test_long_lists_are_schema_checked_by_sample() -> None:
    """100000 frame records once took the harness's schema check a minute (a false Hang, found by
    the fuzzer): it validates the first and last SCHEMA_SAMPLE items of each long list."""
    n = 3 * SCHEMA_SAMPLE
    frames = [{"frame": k} for k in range(n)]
    doc = {"connections": [{"websocket": {"frames": frames, "messages": frames[:10]}}], "n": 1}
    ws = sampled(doc)["connections"][0]["websocket"]
    assert ws["frames"] == frames[:SCHEMA_SAMPLE] + frames[-SCHEMA_SAMPLE:]
    assert ws["messages"] == frames[:10] and sampled(doc)["n"] == 1
    assert len(doc["connections"][0]["websocket"]["frames"]) == n  # the document itself is kept whole


def test_the_time_limit_counts_cpu_time_with_a_wall_clock_backstop() -> None:
    """The per-input limit is CPU time, so a run on a loaded machine is not a false Hang; an
    input that waits without computing is still caught by the clock, at 10x the limit."""
    import time

    from tests.fuzz.harness import Hang, time_limit

    with pytest.raises(Hang, match="CPU time"), time_limit(0.2):
        while True:
            pass
    with pytest.raises(Hang, match="by the clock"), time_limit(0.02):
        time.sleep(5)  # burns no CPU: only the wall-clock backstop ends it
