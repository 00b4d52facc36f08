"""Bad input on the command line: a one-line message, a distinct exit code, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import corpus_file

REAL = corpus_file("zeek", "broker-websocket.pcap")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", 3), (b"GIF89a not a capture at all", 3), (b"\xd4\xc3\xb2\xa1", 3)],
)
def test_not_captures(tmp_path: Path, content: bytes, code: int) -> None:
    f = tmp_path / "x.pcap"
    f.write_bytes(content)
    p = run("analyze", str(f))
    assert p.returncode == code
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and str(f) in p.stderr


def test_truncated_capture_prints_results_and_exits_4(tmp_path: Path) -> None:
    f = tmp_path / "cut.pcap"
    f.write_bytes(REAL.read_bytes()[:-500])
    p = run("analyze", str(f), "--format", "json")
    assert p.returncode == 4
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    doc = json.loads(p.stdout)
    assert doc["capture"]["complete"] is False
    assert len(doc["connections"]) == 1


def test_snaplen_cut_packets_are_gaps(tmp_path: Path) -> None:
    from analyzer.capture.pcapfile import open_capture
    from tests.pcapwriter import pcap_bytes

    pkts = [(p.ts, p.data[14:]) for p in open_capture(str(REAL))]
    cut = [(ts, d[:60]) for ts, d in pkts]  # 60 bytes: IP + TCP headers + a few payload bytes
    f = tmp_path / "snap.pcap"
    f.write_bytes(pcap_bytes(cut, linktype=101, orig_extra=0))
    # origlen says how long they really were
    blob = bytearray(f.read_bytes())
    pos = 24
    for _, d in pkts:
        import struct

        struct.pack_into("<I", blob, pos + 12, len(d))
        pos += 16 + 60 if len(d) >= 60 else 16 + len(d)
    f.write_bytes(bytes(blob))
    p = run("analyze", str(f), "--format", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["connections"][0]["tcp"]["gaps"] > 0
    assert any(a["code"] == "tcp.gap" for a in doc["anomalies"])
    cut_frames = [i + 1 for i, (_, d) in enumerate(pkts) if len(d) > 60]
    snap = [a for a in doc["anomalies"] if a["code"] == "capture.snaplen-truncated"]
    assert len(snap) == 1 and snap[0]["frames"] == [cut_frames[0]]
    assert snap[0]["message"].startswith(f"{len(cut_frames)} TCP packets cut by the snapshot length")


def test_missing_file() -> None:
    p = run("analyze", "/nonexistent/file.pcap")
    assert p.returncode == 3 and "cannot open" in p.stderr and "Traceback" not in p.stderr


def test_summary_on_real_capture() -> None:
    p = run("analyze", str(REAL))
    assert p.returncode == 0
    assert "127.0.0.1:38776" in p.stdout and "127.0.0.1:27599" in p.stdout


def test_timestamps_past_year_9999_are_printed_as_seconds(tmp_path: Path) -> None:
    """Found by tests/fuzz: a pcapng timestamp is a 64-bit count of the interface's unit
    (if_tsresol, draft-ietf-opsawg-pcapng §4.2): in 1-second units a packet can lie in year
    65000, which the text summary's date formatting raised on (ValueError: year is out of range)."""
    from analyzer.capture.pcapfile import open_capture
    from tests.pcapwriter import pcapng_bytes

    far = 2e12  # seconds: year ~65000
    pkts = [(0, far + i, p.data) for i, p in enumerate(open_capture(str(REAL)))]
    f = tmp_path / "far.pcapng"
    f.write_bytes(pcapng_bytes([(1, 0x80)], pkts))  # if_tsresol 0x80: units of 2^-0 s
    p = run("analyze", str(f), "--messages", "--events")
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert f"{far:.6f}s" in p.stdout  # the first packet's time, as the seconds the file says
    p = run("analyze", str(f), "--format", "json")
    assert p.returncode == 0 and json.loads(p.stdout)["capture"]["first_ts"] == far
