"""Usage errors of every subcommand (issue #14): outputs that cannot be written and bad
`--decode-as` values end in one sentence (or argparse's usage line and error) and exit 2, never
a traceback. Each case runs the real CLI as a subprocess, bounded in time."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.cli import build_parser
from analyzer.cli.common import parse_decode_as
from tests.conftest import CAPTURES

CAP = CAPTURES / "sio-python-polling-upgrade.pcap"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def one_sentence(p: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------------------
# outputs that cannot be written

OUTPUT_CASES = {
    "analyze": ["analyze", str(CAP), "-o", "{out}"],
    "analyze-json": ["analyze", str(CAP), "--format", "json", "-o", "{out}"],
    "crosscheck": ["crosscheck", str(CAP), "--tshark", "/nonexistent/tshark", "-o", "{out}"],
    "export-har": ["export", str(CAP), "--format", "har", "-o", "{out}"],
    "export-jsonl": ["export", str(CAP), "--format", "jsonl", "-o", "{out}"],
    "export-pcap": ["export", str(CAP), "--format", "pcap", "-o", "{out}"],
}


@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
@pytest.mark.parametrize("case", sorted(OUTPUT_CASES))
def test_unwritable_output_is_one_sentence_and_exit_2(tmp_path: Path, case: str, where: str) -> None:
    out = tmp_path / "no" / "such" / "out.txt" if where == "missing-folder" else tmp_path
    p = run(*(a.format(out=out) for a in OUTPUT_CASES[case]))
    assert p.returncode == 2, p.stderr
    line = one_sentence(p)
    assert line.startswith("socketscope: ") and f"cannot write {out}: " in line
    assert ("No such file or directory" if where == "missing-folder" else "Is a directory") in line
    assert not (tmp_path / "no").exists()  # nothing made on the way


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_analyze_never_overwrites_the_capture(tmp_path: Path, fmt: str) -> None:
    cap = tmp_path / "c.pcap"
    cap.write_bytes(CAP.read_bytes())
    p = run("analyze", str(cap), "--format", fmt, "-o", str(cap))
    assert p.returncode == 2 and "overwritten" in one_sentence(p)
    assert cap.read_bytes() == CAP.read_bytes()


def test_export_csv_folder_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    p = run("export", str(CAP), "--format", "csv", "-o", str(f))
    assert p.returncode == 2 and f"cannot write {f}: Not a directory" in one_sentence(p)


def test_live_unwritable_file_is_one_sentence(tmp_path: Path) -> None:
    """-w is opened before the capture tool starts (no privilege needed to see this error);
    the README's exit code for live write problems is 5."""
    out = tmp_path / "no" / "x.pcapng"
    p = run("live", "-i", "lo", "-w", str(out), "--duration", "1")
    assert p.returncode == 5
    assert f"cannot write {out}: No such file or directory" in one_sentence(p)


@pytest.mark.parametrize("kind", ["a-file", "under-a-file"])
def test_serve_unusable_upload_dir_is_one_sentence(tmp_path: Path, kind: str) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    target = f if kind == "a-file" else f / "sub"
    p = run("serve", "--port", "0", "--upload-dir", str(target))
    assert p.returncode == 2 and str(target) in one_sentence(p)


def test_bench_unwritable_report_is_one_sentence(tmp_path: Path) -> None:
    out = tmp_path / "no" / "report.md"
    p = run("bench", str(CAP), "--report", str(out))
    if "benchmarks/run.py not found" in p.stderr:
        pytest.skip("an installed package: bench needs the source checkout")
    assert p.returncode == 2 and f"cannot write {out}" in one_sentence(p)


# ---------------------------------------------------------------------------------------------------------
# --decode-as: one parser, argparse usage errors (exit 2)

DECODE_AS_COMMANDS = {
    "analyze": ["analyze", str(CAP)],
    "crosscheck": ["crosscheck", str(CAP)],
    "export": ["export", str(CAP), "--format", "jsonl", "-o", "-"],
    "live": ["live", "-i", "lo", "--duration", "1"],
}
BAD = ["garbage", "9696", "9696=", "=websocket", "0=websocket", "65536=http", "80=ftp", "80=WS", "²=http"]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("command", sorted(DECODE_AS_COMMANDS))
def test_bad_decode_as_is_a_usage_error(command: str, value: str) -> None:
    p = run(*DECODE_AS_COMMANDS[command], "--decode-as", value)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    errors = [x for x in p.stderr.splitlines() if "error:" in x]
    assert p.stderr.startswith("usage: socketscope " + command)
    assert len(errors) == 1 and errors[0].startswith(f"socketscope {command}: error: argument --decode-as: ")
    assert repr(value) in errors[0] and "PORT=websocket or PORT=http" in errors[0]


def test_decode_as_http_is_accepted() -> None:
    p = run("analyze", str(CAP), "--decode-as", "8080=http", "--decode-as", "9696=websocket", "-q")
    assert p.returncode == 0 and p.stderr == ""


def test_one_decode_as_parser_for_every_subcommand() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    seen = []
    for name, p in sub.choices.items():
        for action in p._actions:
            if "--decode-as" in action.option_strings:
                assert action.type is parse_decode_as, name
                assert "PORT=websocket" in (action.help or "") and "PORT=http" in (action.help or "")
                seen.append(name)
    assert sorted(seen) == ["analyze", "batch", "crosscheck", "export", "live"]
    assert parse_decode_as("9696=websocket") == (9696, "websocket")
    assert parse_decode_as("80=http") == (80, "http")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_decode_as("²=http")  # str.isdigit() alone takes it; int() does not


@pytest.mark.parametrize("command", sorted(DECODE_AS_COMMANDS))
def test_help_lists_both_decode_as_forms(command: str) -> None:
    p = run(command, "--help")
    assert p.returncode == 0 and p.stderr == ""
    text = " ".join(p.stdout.split())  # argparse wraps help text
    assert "PORT=websocket" in text and "PORT=http" in text


# ---------------------------------------------------------------------------------------------------------
# live --quiet (needs the capture privilege: CI runs as root)


def test_live_quiet_prints_no_informational_lines(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("live capture needs root (CI runs the tests as root)")
    out = tmp_path / "x.pcapng"
    p = run("live", "-i", "lo", "-f", "tcp port 9", "--count", "1", "--duration", "1", "-w", str(out), "-q")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run("live", "-i", "lo", "-f", "tcp port 9", "--count", "1", "--duration", "1", "-w", str(out))
    assert p.returncode == 0 and "capturing on lo" in p.stderr and "written to" in p.stderr
