"""The progress bar (issue #14): `analyze`, `export` and `crosscheck` draw it on stderr when it is a
terminal (here a pseudo-terminal), not with `--quiet` / `-q` / `--no-progress`, and not when stderr
is not a terminal. Every run is a real CLI subprocess bounded in time."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CAPTURES, ROOT

CAP = CAPTURES / "sio-python-polling-upgrade.pcap"
BAR = re.compile(r"\r[\d,]+ packets, [\d.,]+ of [\d.,]+ MB read \(\d+%\)")
TIMEOUT = 120.0
# the runs start in a temporary folder: this source tree first on the path, installed or not
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_on_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout to /dev/null); (exit code, what the
    terminal received)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "analyzer.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            cwd=cwd,
            env=ENV,
        )
    finally:
        os.close(slave)
    got = bytearray()
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not chunk:
                break
            got += chunk
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            os.close(master)
    return code, got.decode("utf-8", "replace")


COMMANDS = {
    "analyze": ["analyze", str(CAP)],
    "analyze-json": ["analyze", str(CAP), "--format", "json", "-o", "out.json"],
    "export": ["export", str(CAP), "--format", "jsonl", "-o", "out.jsonl"],
    # tshark is not needed to see the bar: socketscope reads the capture first, then runs tshark
    "crosscheck": ["crosscheck", str(CAP), "--tshark", "/nonexistent/tshark"],
}
EXIT = {"crosscheck": 5}  # no such tshark


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_progress_bar_on_a_terminal(command: str, tmp_path: Path) -> None:
    code, text = run_on_terminal(COMMANDS[command], tmp_path)
    assert code == EXIT.get(command, 0), text
    assert "Traceback" not in text
    assert BAR.search(text), text
    assert text.endswith("\r\x1b[K") or command == "crosscheck", repr(text[-80:])  # erased at the end


@pytest.mark.parametrize("quiet", ["-q", "--quiet", "--no-progress"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_quiet_draws_nothing(command: str, quiet: str, tmp_path: Path) -> None:
    code, text = run_on_terminal([*COMMANDS[command], quiet], tmp_path)
    assert code == EXIT.get(command, 0), text
    assert "packets" not in text and "\r" not in text.replace("\r\n", "\n"), repr(text)
    if command == "crosscheck":  # errors are still printed: one sentence
        assert "tshark" in text and len(text.strip().splitlines()) == 1
    else:
        assert text == ""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_bar_when_stderr_is_not_a_terminal(command: str, tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *COMMANDS[command]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=ENV,
        timeout=TIMEOUT,
    )
    assert p.returncode == EXIT.get(command, 0), p.stderr
    assert "packets" not in p.stderr and "\r" not in p.stderr and "Traceback" not in p.stderr
    if command != "crosscheck":
        assert p.stderr == ""
