"""`socketscope export`: formats, selection options, usage errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer import analyze_file
from analyzer.cli import main
from tests.conftest import CAPTURES

NODE = CAPTURES / "sio-node-v4-default.pcap"
WS = CAPTURES / "ws-python-websockets.pcap"


def test_each_format(tmp_path: Path) -> None:
    assert main(["export", str(NODE), "--format", "har", "-o", str(tmp_path / "x.har")]) == 0
    assert json.loads((tmp_path / "x.har").read_text())["log"]["entries"]
    assert main(["export", str(NODE), "--format", "jsonl", "-o", str(tmp_path / "x.jsonl")]) == 0
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    assert {json.loads(x)["layer"] for x in lines} == {"socketio"}
    assert main(["export", str(NODE), "--format", "csv", "-o", str(tmp_path / "tables")]) == 0
    assert len(list((tmp_path / "tables").glob("*.csv"))) == 7
    assert main(["export", str(NODE), "--format", "pcap", "-o", str(tmp_path / "x.pcapng")]) == 0
    assert analyze_file(str(tmp_path / "x.pcapng")).capture.packets == analyze_file(str(NODE)).capture.packets


def test_layer_and_selection_options(tmp_path: Path) -> None:
    out = tmp_path / "ws.jsonl"
    a = analyze_file(str(NODE))
    ws_id = next(c.id for c in a.connections if c.websocket is not None)
    args = ["export", str(NODE), "--format", "jsonl", "--layer", "websocket", "--connection", str(ws_id)]
    assert main([*args, "-o", str(out)]) == 0
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert recs and {r["connection"] for r in recs} == {ws_id} and {r["layer"] for r in recs} == {"websocket"}
    out2 = tmp_path / "chat.jsonl"
    assert (
        main(
            ["export", str(NODE), "--format", "jsonl", "--event", "chat", "--namespace", "/", "-o", str(out2)]
        )
        == 0
    )
    assert [json.loads(x)["type"] for x in out2.read_text().splitlines()] == ["EVENT", "ACK"]


def test_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(WS), "--format", "jsonl", "-o", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(json.loads(x)["layer"] == "websocket" for x in lines)


@pytest.mark.parametrize(
    "extra",
    [
        ["--format", "har", "--layer", "socketio", "-o", "x.har"],
        ["--format", "csv", "-o", "-"],
    ],
)
def test_usage_errors(extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = [str(tmp_path / v) if v.startswith("x.") else v for v in extra]
    assert main(["export", str(WS), *extra]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_never_overwrites_the_capture(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    cap.write_bytes(WS.read_bytes())
    assert main(["export", str(cap), "--format", "pcap", "-o", str(cap)]) == 2
    assert cap.read_bytes() == WS.read_bytes()


@pytest.mark.parametrize("extra", [[], ["--format", "jsonl", "--decode-as", "80=ftp"]])
def test_argparse_usage_errors(extra: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["export", str(WS), "-o", "x", *extra])
    assert exc.value.code == 2


def test_not_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.pcap"
    f.write_bytes(b"not a capture")
    assert main(["export", str(f), "--format", "har", "-o", str(tmp_path / "o.har")]) == 3
    assert str(f) in capsys.readouterr().err


def test_damaged_capture_exports_and_exits_4(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(WS.read_bytes()[:-100])
    out = tmp_path / "o.jsonl"
    assert main(["export", str(cut), "--format", "jsonl", "-o", str(out)]) == 4
    assert len(out.read_text().splitlines()) > 5


def test_unknown_selection_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.jsonl"
    assert main(["export", str(NODE), "--format", "jsonl", "--connection", "999", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no TCP connection 999" in err and "matches nothing" in err
    assert out.read_text() == ""


def test_console_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "x.har"
    p = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "export", str(WS), "--format", "har", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and p.stderr == ""
    assert json.loads(out.read_text())["log"]["creator"]["name"] == "socketscope"


@pytest.mark.parametrize("fmt", ["har", "jsonl", "pcap"])
def test_output_that_cannot_be_written(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no-such-dir" / "x.out"
    assert main(["export", str(WS), "--format", fmt, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot write {out}" in err
