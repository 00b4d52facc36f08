"""Smoke run of the benchmark harness (benchmarks/run.py) on a small bundled capture.

No timing assertions: only that every step runs, the counts are sane and the report has
its tables.  The slow comparisons (pyshark, the scaling runs, cProfile) are switched off.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from analyzer.cli import main as cli_main
from tests.conftest import CAPTURES

RUNNER = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("socketscope_bench_run_test", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench_run = _load()

CAPTURE = CAPTURES / "ws-python-websockets.pcap"
EXPECTED = json.loads((CAPTURES / "ws-python-websockets.expected.json").read_text(encoding="utf-8"))


@pytest.mark.tshark
def test_runner_writes_the_report(tmp_path: Path, tshark: str) -> None:
    report = tmp_path / "bench.md"
    report.write_text(
        "# Benchmarks\n\nHand-written intro.\n\n"
        + bench_run.BEGIN
        + "\nold\n"
        + bench_run.END
        + "\n\nTail.\n"
    )
    rc = bench_run.main(
        [
            str(CAPTURE),
            "--methods", "socketscope,tshark,scapy,floor",
            "--slice-packets", "30",
            "--scaling", "none",
            "--profile", "none",
            "--report", str(report),
            "--work-dir", str(tmp_path),
        ]
    )  # fmt: skip
    assert rc == 0
    text = report.read_text(encoding="utf-8")
    # the text around the markers is kept, the old generated part is replaced
    assert text.startswith("# Benchmarks\n\nHand-written intro.\n")
    assert text.rstrip().endswith("Tail.")
    assert "\nold\n" not in text
    assert text.count(bench_run.BEGIN) == 1 and text.count(bench_run.END) == 1
    assert "| tool | how | wall s | packets/s |" in text
    assert "| socketscope | measured, whole file |" in text
    assert "| tshark | measured, whole file |" in text
    assert "| scapy | extrapolated from 30 packets |" in text
    assert "| (python floor) | measured, whole file: read + hex + write" in text
    assert "The 10x target leaves" in text
    assert "#### Slice: the first 30 packets" in text
    assert "Machine: " in text

    results = json.loads(next(tmp_path.glob("results-*.json")).read_text(encoding="utf-8"))
    rows = {(r["method"], r["scope"]): r for r in results["measurements"]}
    assert set(rows) == {
        ("socketscope", "full"),
        ("tshark", "full"),
        ("socketscope", "slice"),
        ("tshark", "slice"),
        ("scapy", "slice"),
        ("floor", "full"),
    }
    for r in rows.values():
        assert r["returncode"] == 0 and not r["timed_out"]
        assert r["wall_s"] > 0 and r["maxrss_kb"] > 0
    assert rows[("socketscope", "full")]["packets"] == 45
    # the floor wrote every TCP payload byte the capture holds
    truth = bench_run.pcaptools.stats(CAPTURE).tcp_payload_bytes  # from the IP length fields
    assert rows[("floor", "full")]["counts"]["tcp_payload_bytes"] == truth > 0
    # what the applications sent: every message is at least one frame, and tshark agrees on the frames
    tshark_frames = rows[("tshark", "full")]["counts"]["ws_frames"]
    assert tshark_frames >= len(EXPECTED["websocket"]["messages"])
    # socketscope ran from the snapshot of analyzer/ taken at the start, not from the working tree
    snapshot = Path(results["code_snapshot"])
    assert snapshot.parent == tmp_path and (snapshot / "analyzer" / "cli" / "main.py").is_file()
    assert bench_run.code_fingerprint(snapshot) == results["code_at_start"]
    slice_counts = results["slice"]["socketscope_counts"]
    assert Path(slice_counts["analyzer"]).is_relative_to(snapshot)
    assert slice_counts["packets"] == 30
    assert slice_counts["ws_frames"] == rows[("tshark", "slice")]["counts"]["ws_frames"]
    scapy = rows[("scapy", "slice")]["counts"]
    assert scapy["packets"] == 30
    assert scapy["tcp_payload_bytes"] == results["slice"]["truth"]["tcp_payload_bytes"]


def test_cli_bench_wrapper_runs_the_harness(tmp_path: Path) -> None:
    report = tmp_path / "b.md"
    rc = cli_main(
        [
            "bench", str(CAPTURE),
            "--methods", "socketscope",
            "--slice-packets", "10",
            "--scaling", "none",
            "--profile", "none",
            "--report", str(report),
            "--work-dir", str(tmp_path),
        ]
    )  # fmt: skip
    assert rc == 0
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks")
    assert "| socketscope | measured, whole file |" in text
    assert "tshark" not in text.split("#### Whole file")[1].split("####")[0].split("\n", 3)[3]


def test_count_tshark_fields(tmp_path: Path) -> None:
    out = tmp_path / "f.txt"
    # frame.number, websocket.opcode, websocket.payload_length; two frames in packet 12
    out.write_bytes(b"7\t1\t5\n12\t1,9\t3,0\n\n40\t2\t70000\n")
    assert bench_run.count_tshark_fields(out) == {"ws_packets": 3, "ws_frames": 4}


def test_measure_reports_failure_and_timeout(tmp_path: Path) -> None:
    m, _ = bench_run.measure(
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        method="x", scope="full", file=CAPTURE, packets=1, timeout=30,
    )  # fmt: skip
    assert m.returncode == 3 and not m.ok
    m, _ = bench_run.measure(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        method="x", scope="full", file=CAPTURE, packets=1, timeout=0.5, sample=False,
    )  # fmt: skip
    assert m.timed_out and not m.ok
    m, out = bench_run.measure(
        [sys.executable, "-c", "b = bytearray(50 << 20); print('{\"n\": 1}')"],
        method="x", scope="full", file=CAPTURE, packets=1, timeout=30,
    )  # fmt: skip
    assert m.ok and m.maxrss_kb is not None and m.maxrss_kb >= 50 << 10
    assert bench_run._last_json(out) == {"n": 1}


def test_repeated_whole_file_runs_take_turns_and_the_fastest_is_kept() -> None:
    order: list[str] = []

    def fake(name: str, walls: list[float]) -> Callable[[], Any]:
        def run() -> Any:
            order.append(name)
            m = bench_run.Measurement(name, "full", "f", 1, 1, wall_s=walls.pop(0), returncode=0)
            return m

        return run

    best = bench_run.best_of_turns(3, {"a": fake("a", [3.0, 1.0, 2.0]), "b": fake("b", [5.0, 6.0, 4.0])})
    assert order == ["a", "b", "a", "b", "a", "b"]  # a slow spell hits both methods alike
    assert [(m.method, m.wall_s, m.walls) for m in best] == [
        ("a", 1.0, [3.0, 1.0, 2.0]),
        ("b", 4.0, [5.0, 6.0, 4.0]),
    ]


def test_runner_tls_mode_compares_plaintext_and_decrypted(tmp_path: Path) -> None:
    """`run.py PLAIN --tls TLS.pcap`: both measured in turns, the TLS one decrypted with its key
    log (checked from its document), its own section written between its markers, the rest of
    the report kept."""
    tls_dir = CAPTURES / "tls"
    report = tmp_path / "bench.md"
    report.write_text("# Benchmarks\n\n" + bench_run.BEGIN + "\nmain section\n" + bench_run.END + "\n")
    rc = bench_run.main(
        [
            str(CAPTURE),
            "--tls", str(tls_dir / "ws-websockets-tls13.pcap"),
            "--keylog", str(tls_dir / "ws-websockets-tls13.keys"),
            "--repeat", "2",
            "--report", str(report),
            "--work-dir", str(tmp_path),
        ]
    )  # fmt: skip
    assert rc == 0
    text = report.read_text(encoding="utf-8")
    assert "\nmain section\n" in text  # the main section is left as it is
    assert "### Decryption cost: run of" in text and "Decrypting costs" in text
    assert "| tls | `ws-websockets-tls13.pcap` | 43 |" in text
    results = json.loads(next(tmp_path.glob("results-tls-*.json")).read_text(encoding="utf-8"))
    assert results["tls"]["found"]["decrypted"] == results["tls"]["found"]["tls_connections"] == 1
    assert results["tls"]["found"]["ws_messages"] > 0
    assert results["plaintext"]["found"]["tls_connections"] == 0
    assert len(results["tls"]["cpus"]) == len(results["plaintext"]["cpus"]) == 2
    # run again: the section is replaced, not added twice
    assert bench_run.main([str(CAPTURE), "--tls", str(tls_dir / "ws-websockets-tls13.pcap"), "--report",
                           str(report), "--work-dir", str(tmp_path)]) == 0  # fmt: skip
    assert report.read_text(encoding="utf-8").count("### Decryption cost") == 1
