"""`socketscope crosscheck`: socketscope against tshark 4.0, frame by frame.

Over the third-party corpus (tests/corpus) and the bundled captures the two agree except for the documented
cases, and where they differ the side the report calls right is checked against what the
applications themselves recorded (captures/*.expected.json). Differences are provoked by
editing tshark's view, to show that the comparison catches them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from analyzer import Options, analyze_file
from analyzer.crosscheck.compare import CrosscheckReport, compare, crosscheck, tshark_decode_as
from analyzer.crosscheck.tshark import TsharkView, run_tshark
from tests.conftest import bundled_captures, corpus_captures, corpus_file, corpus_id

ALL = bundled_captures() + corpus_captures()
# bundled captures where tshark 4.0 fails on permessage-deflate (captures/README.md, "Known differences")
DEFLATE = {"ws-python-websockets.pcap", "ws-node-ws.pcapng"}


def _id(p: Path) -> str:
    return p.name if p.parent.name == "captures" else corpus_id(p)


def expected_messages(cap: Path) -> list[dict[str, Any]]:
    doc = json.loads(cap.with_name(cap.name.rsplit(".", 1)[0] + ".expected.json").read_text())
    msgs: list[dict[str, Any]] = doc["websocket"]["messages"]
    return msgs


@pytest.mark.tshark
@pytest.mark.parametrize("cap", ALL, ids=_id)
def test_agrees_with_tshark_or_explains(cap: Path, tshark: str) -> None:
    report = crosscheck(str(cap))
    assert report.ok, [d.to_dict() for d in report.differences if not d.explained]
    assert report.connections and all(c.tshark_stream is not None for c in report.connections)
    if cap.name not in DEFLATE:
        assert report.differences == [], [d.to_dict() for d in report.differences]
        return
    # the documented tshark failures, and socketscope's bytes are the applications' own
    diffs = report.differences
    assert {d.reason for d in diffs} == {"tshark-fragmented-deflate", "tshark-deflate-context-lost"}
    assert all(d.right == "socketscope" and d.layer == "message" for d in diffs)
    analysis = analyze_file(str(cap))
    ours = {m.frame: m for c in analysis.connections if c.websocket for m in c.websocket.messages}
    want = expected_messages(cap)
    order = sorted(ours)
    for d in diffs:
        m = ours[d.frame]
        app = want[order.index(d.frame)]  # the conversations are lock-step: wire order = record order
        assert (m.direction.value, m.length) == (app["direction"], app["length"])
        assert hashlib.sha256(m.data).hexdigest() == app["sha256"]


@pytest.mark.tshark
def test_midstream_decode_as(tshark: str) -> None:
    cap = corpus_file("ndn-tools", "ipv4-websocket-segmented.pcap")
    report = crosscheck(str(cap), Options(decode_as={9696: "websocket"}))
    assert report.ok
    by_stream = {c.tshark_stream: c for c in report.connections}
    assert by_stream[0].status == "agree" and by_stream[0].ws_frames == 2  # close 1001 both ways
    # tshark's Decode As is per port: it also decodes the handshake of stream 1 as WebSocket
    assert by_stream[1].differences and {d.reason for d in by_stream[1].differences} == {
        "tshark-decode-as-port"
    }
    assert "-d" in report.tshark_command and "tcp.port==9696,websocket" in report.tshark_command


# --- provoked differences -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def baseline(tshark: str) -> tuple[Any, TsharkView, dict[int, str]]:
    cap = next(c for c in bundled_captures() if c.name == "sio-python-polling-upgrade.pcap")
    options = Options()
    analysis = analyze_file(str(cap), options)
    d_opts = tshark_decode_as(analysis, options)
    return analysis, run_tshark(str(cap), d_opts, tshark), d_opts


def _report(baseline: tuple[Any, TsharkView, dict[int, str]], view: TsharkView) -> CrosscheckReport:
    analysis, _, d_opts = baseline
    report = CrosscheckReport("x", "tshark", [])
    compare(analysis, view, report, d_opts, Options())
    return report


@pytest.mark.tshark
def test_baseline_agrees(baseline: tuple[Any, TsharkView, dict[int, str]]) -> None:
    report = _report(baseline, baseline[1])
    assert report.differences == [] and report.ok
    assert sum(c.ws_frames for c in report.connections) > 10
    assert sum(c.http_messages for c in report.connections) == 4  # polling handshake + the upgrade


@pytest.mark.tshark
def test_a_different_opcode_is_caught(baseline: tuple[Any, TsharkView, dict[int, str]]) -> None:
    view = copy.deepcopy(baseline[1])
    i = next(i for i, w in enumerate(view.ws) if w.opcode == 1)
    view.ws[i].opcode = 2
    report = _report(baseline, view)
    assert not report.ok
    (d,) = report.differences
    assert (d.what, d.socketscope, d.tshark, d.frame) == ("opcode", 1, 2, view.ws[i].frame)


@pytest.mark.tshark
def test_a_different_payload_is_caught(baseline: tuple[Any, TsharkView, dict[int, str]]) -> None:
    view = copy.deepcopy(baseline[1])
    i = next(i for i, w in enumerate(view.ws) if w.payload is not None and w.payload.length > 3 and not w.rsv)
    p = view.ws[i].payload
    assert p is not None
    view.ws[i].payload = replace(p, sha256="0" * 64)
    report = _report(baseline, view)
    whats = {d.what for d in report.differences}
    assert "payload" in whats and not report.ok


@pytest.mark.tshark
def test_missing_http_and_frames_are_caught(baseline: tuple[Any, TsharkView, dict[int, str]]) -> None:
    view = copy.deepcopy(baseline[1])
    dropped = view.http.pop(0)
    view.ws.pop()
    report = _report(baseline, view)
    whats = [d.what for d in report.differences]
    assert f"HTTP {dropped.kind} only in socketscope" in whats
    assert "WebSocket frame only in socketscope" in whats
    assert not report.ok


@pytest.mark.tshark
def test_a_missing_connection_is_caught(baseline: tuple[Any, TsharkView, dict[int, str]]) -> None:
    view = copy.deepcopy(baseline[1])
    first = min(view.streams)
    del view.streams[first]
    view.http = [h for h in view.http if h.stream != first]
    view.ws = [w for w in view.ws if w.stream != first]
    report = _report(baseline, view)
    assert any(d.what == "TCP connection only in socketscope" for d in report.differences)
    assert not report.ok


# --- the command ----------------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "crosscheck", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.tshark
def test_cli_explained_differences_exit_0(tshark: str) -> None:
    cap = next(c for c in bundled_captures() if c.name == "ws-node-ws.pcapng")
    res = _cli(str(cap))
    assert res.returncode == 0, res.stderr
    assert "Result: EXPLAINED" in res.stdout and "[tshark-fragmented-deflate]" in res.stdout
    assert "-d tcp.port==18007,http" in res.stdout  # tshark is told where socketscope found HTTP
    js = _cli("--format", "json", str(cap))
    doc = json.loads(js.stdout)
    assert doc["ok"] is True and doc["differences"] == doc["explained"] == 3


FAKE_TSHARK = textwrap.dedent(
    """\
    #!{python}
    # tshark whose PDML says the first text frame is binary: an unexplained difference
    import subprocess, sys
    res = subprocess.run(["{tshark}", *sys.argv[1:]], capture_output=True)
    out = res.stdout
    if b"<pdml" in out:
        old = b'name="websocket.opcode" showname=".... 0001 = Opcode: Text (1)" size="1"'
        i = out.find(old)
        out = out[:i] + out[i:].replace(b'show="1"', b'show="2"', 1)
    sys.stdout.buffer.write(out)
    sys.exit(res.returncode)
    """
)


@pytest.mark.tshark
def test_cli_unexplained_difference_exit_1(tmp_path: Path, tshark: str) -> None:
    fake = tmp_path / "tshark"
    fake.write_text(FAKE_TSHARK.format(python=sys.executable, tshark=tshark))
    fake.chmod(0o755)
    cap = next(c for c in bundled_captures() if c.name == "sio-python-websocket-only.pcap")
    res = _cli("--tshark", str(fake), str(cap))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "NOT EXPLAINED" in res.stdout and "opcode" in res.stdout and "Result: DIFFERENCES" in res.stdout


def test_cli_not_a_capture_and_no_tshark(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_text("not a capture")
    res = _cli(str(junk))
    assert res.returncode == 3 and "Traceback" not in res.stderr
    cap = next(c for c in bundled_captures() if c.name == "xss-payloads.pcap")
    res = _cli("--tshark", str(tmp_path / "no-such-tshark"), str(cap))
    assert res.returncode == 5 and "tshark is not installed" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.tshark
def test_every_frame_is_compared_past_the_frame_record_bound(tmp_path: Path, tshark: str) -> None:
    """crosscheck lists every frame to compare it with tshark's, whatever --max-frame-records says
    (docs/bounds.md): unlisted frames would be reported as missing."""
    from tests.crafted_captures import ws_tiny_frames

    cap = tmp_path / "tiny.pcap"
    cap.write_bytes(ws_tiny_frames(40))
    report = crosscheck(str(cap), Options(max_frame_records=5))
    assert report.ok and report.differences == [], [d.to_dict() for d in report.differences]
