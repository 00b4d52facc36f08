"""`--engine tshark`: packets from pyshark (tshark's readers) give the analysis the builtin reader gives."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analyzer.capture.pcapfile import CaptureError, open_capture
from analyzer.capture.tshark import Interface, epoch_ns, file_timestamp, open_tshark_capture, probe_layout
from analyzer.pipeline import analyze_reader
from tests.conftest import bundled_captures, corpus_captures, corpus_id
from tests.pcapwriter import pcap_bytes, pcapng_bytes

ALL = bundled_captures() + corpus_captures()


def _id(p: Path) -> str:
    return p.name if p.parent.name == "captures" else corpus_id(p)


def doc(reader: Any) -> dict[str, Any]:
    d: dict[str, Any] = analyze_reader(reader).to_dict()
    d["capture"].pop("path")
    d["capture"].pop("format")
    return d


@pytest.mark.tshark
@pytest.mark.parametrize("cap", ALL, ids=_id)
def test_same_analysis_as_the_builtin_reader(cap: Path, tshark: str) -> None:
    reader = open_tshark_capture(str(cap))
    theirs = doc(reader)
    assert reader.error is None
    assert theirs == doc(open_capture(str(cap)))


@pytest.mark.tshark
def test_link_types_and_resolutions(tmp_path: Path, tshark: str) -> None:
    """Files written here with other link types and timestamp resolutions: tshark's packets, our floats."""
    ip = bytes.fromhex("4500001c000100004011f98e7f0000017f000001") + bytes(8)
    cases = {
        "raw-ns.pcap": pcap_bytes([(1_700_000_000.123456789, ip)], linktype=101, nanos=True),
        "sll2.pcap": pcap_bytes([(1_700_000_000.5, b"\x08\x00" + bytes(18) + ip)], linktype=276),
        "null.pcap": pcap_bytes([(1.25, struct.pack("<I", 2) + ip)], linktype=0),
        "two-ifaces.pcapng": pcapng_bytes(
            [(1, 9), (228, None), (113, 3)],
            [
                (0, 1_700_000_000.000000123, bytes(12) + b"\x08\x00" + ip),
                (1, 2.5, ip),
                (2, 3.125, bytes(14) + b"\x08\x00" + ip),
            ],
        ),
    }
    for name, raw in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        ours = [(p.frame, p.ts, p.linktype, p.data, p.orig_len) for p in open_capture(str(path))]
        theirs = [(p.frame, p.ts, p.linktype, p.data, p.orig_len) for p in open_tshark_capture(str(path))]
        assert theirs == ours, name


def test_probe_layout(tmp_path: Path) -> None:
    p = tmp_path / "a.pcapng"
    p.write_bytes(pcapng_bytes([(1, 9), (276, None)], [(0, 1.0, b"x"), (1, 2.0, b"y")]))
    fmt, ifaces = probe_layout(str(p))
    assert fmt == "pcapng"
    assert [(i.linktype, i.decimal) for i in ifaces] == [(1, 9), (276, 6)]
    q = tmp_path / "b.pcap"
    q.write_bytes(pcap_bytes([(1.0, b"x")], linktype=113, nanos=True))
    assert probe_layout(str(q)) == ("pcap", [Interface(113, 9, 1e-9, 0.0)])


def test_timestamps_from_tshark_text() -> None:
    assert epoch_ns("1795632654.438270000") == 1_795_632_654_438_270_000
    assert epoch_ns("12") == 12_000_000_000
    us = Interface(1, 6, 1e-6, 0.0)
    # pcap µs: sec + usec * 1e-6, as pcapfile.py computes it
    assert file_timestamp(epoch_ns("1795632654.438270000"), "pcap", us) == 1795632654 + 438270 * 1e-6
    # pcapng µs: ticks * 1e-6
    assert file_timestamp(epoch_ns("1795632654.438270000"), "pcapng", us) == 1795632654438270 * 1e-6


def test_not_a_capture_is_refused_like_the_builtin(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("hello, not a capture")
    with pytest.raises(CaptureError):
        open_tshark_capture(str(p))


@pytest.mark.tshark
def test_cli_engine_option(tshark: str) -> None:
    cap = next(c for c in bundled_captures() if c.name == "sio-python-websocket-only.pcap")
    out = {}
    for engine in ("builtin", "tshark"):
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "analyzer.cli",
                "analyze",
                "--engine",
                engine,
                "--format",
                "json",
                str(cap),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        out[engine] = res.stdout
    assert out["builtin"] == out["tshark"]
